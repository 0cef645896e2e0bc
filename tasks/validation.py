"""Checking one submission: the task type exists, the payload matches its schema, and the
priority, timing, timeout and retry options make sense. Every bad field is named."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.scoping import Actor
from tasks.errors import InvalidPayload, InvalidTask, UnknownTaskType
from tasks.registry import PRIORITIES, get_task_type

# Fields a submission may carry (the API refuses others).
SUBMIT_FIELDS = (
    "name",
    "task_type",
    "payload",
    "priority",
    "scheduled_for",
    "delay_seconds",
    "timeout",
    "max_retries",
    "idempotency_key",
)
# A scheduled time this little in the past is clock skew, not a mistake.
PAST_TOLERANCE = timedelta(seconds=1)


@dataclass
class Submission:
    """One validated submission, ready to become a record."""

    fields: dict[str, Any]
    idempotency_key: str | None


def check_submission(
    *,
    actor: Actor | None,
    task_type: str,
    name: str = "",
    payload: dict | None = None,
    priority: str | None = None,
    scheduled_for: datetime | None = None,
    delay_seconds: float | None = None,
    timeout: int | None = None,
    max_retries: int | None = None,
    idempotency_key: str | None = None,
    now: datetime,
) -> Submission:
    """Validate one submission; raise InvalidTask (or a subclass) naming every bad field."""
    try:
        ttype = get_task_type(task_type)
    except KeyError:
        raise UnknownTaskType(
            f"Unknown task type {task_type!r}; GET /api/v3/background/types/ lists them.",
            details={"task_type": [f"Unknown task type {task_type!r}."]},
        ) from None
    if ttype.system_only and actor is not None and not actor.user.is_staff:
        raise UnknownTaskType(
            f"Task type {task_type!r} is run by the system schedule only.",
            details={"task_type": [f"{task_type!r} cannot be submitted through the API."]},
        )
    payload = {} if payload is None else payload
    if not isinstance(payload, dict):
        raise InvalidPayload(
            "The payload must be a JSON object.", details={"payload": ["Must be an object."]}
        )
    problems = ttype.payload_errors(payload)
    if problems:
        raise InvalidPayload(
            f"The payload does not match the schema of {task_type!r}: {problems[0]}",
            details={"payload": problems},
        )

    errors: dict[str, list[str]] = {}
    priority = priority or ttype.priority
    if priority not in PRIORITIES:
        errors["priority"] = [f"Must be one of {', '.join(PRIORITIES)}."]
    if name and len(name) > 200:
        errors["name"] = ["At most 200 characters."]
    if timeout is None:
        timeout = ttype.time_limit or settings.TASKS_DEFAULT_TIMEOUT
    elif isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
        errors["timeout"] = ["Must be a whole number of seconds, at least 1."]
    elif timeout > settings.TASKS_MAX_TIMEOUT:
        errors["timeout"] = [f"At most {settings.TASKS_MAX_TIMEOUT} seconds."]
    if max_retries is None:
        max_retries = ttype.max_retries
    elif isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        errors["max_retries"] = ["Must be a whole number, at least 0."]
    elif max_retries > settings.TASKS_MAX_RETRIES:
        errors["max_retries"] = [f"At most {settings.TASKS_MAX_RETRIES}."]
    run_after = None
    if scheduled_for is not None and delay_seconds is not None:
        errors["scheduled_for"] = ["Give scheduled_for or delay_seconds, not both."]
    elif scheduled_for is not None:
        if timezone.is_naive(scheduled_for):
            errors["scheduled_for"] = ["Must include a time zone."]
        elif scheduled_for < now - PAST_TOLERANCE:
            errors["scheduled_for"] = ["Is in the past."]
        elif scheduled_for > now + timedelta(seconds=settings.TASKS_MAX_DELAY_SECONDS):
            errors["scheduled_for"] = ["Is too far ahead (at most 30 days)."]
        else:
            run_after = scheduled_for
    elif delay_seconds is not None:
        if not isinstance(delay_seconds, int | float) or not math.isfinite(delay_seconds):
            errors["delay_seconds"] = ["Must be a number of seconds."]
        elif delay_seconds < 0:
            errors["delay_seconds"] = ["Must not be negative."]
        elif delay_seconds > settings.TASKS_MAX_DELAY_SECONDS:
            errors["delay_seconds"] = ["Is too far ahead (at most 30 days)."]
        elif delay_seconds > 0:
            run_after = scheduled_for = now + timedelta(seconds=delay_seconds)
    if idempotency_key is not None and not (1 <= len(idempotency_key) <= 200):
        errors["idempotency_key"] = ["Must be 1 to 200 characters."]
    if errors:
        field, messages = next(iter(errors.items()))
        raise InvalidTask(f"{field}: {messages[0]}", details=errors)
    return Submission(
        fields={
            "task_type": task_type,
            "name": name or task_type,
            "payload": payload,
            "priority": priority,
            "scheduled_for": scheduled_for,
            "run_after": run_after,
            "timeout": timeout,
            "max_retries": max_retries,
        },
        idempotency_key=idempotency_key,
    )
