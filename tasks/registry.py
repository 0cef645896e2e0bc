"""The registry of task types.

An app registers its types in `<app>/task_types.py` (discovered at start-up by
`TasksConfig.ready()`), so `tasks` never imports a domain app::

    from tasks.registry import TaskContext, task_type

    @task_type("reports.build", schema={"type": "object", ...}, description="...",
               priority="low", time_limit=300, max_retries=3)
    def build_report(ctx: TaskContext, payload: dict) -> dict:
        for i, part in enumerate(parts):
            ctx.check_cancelled()          # stops here once cancelled or past the time limit
            ...
            ctx.progress(100 * (i + 1) // len(parts), f"part {i + 1}")
        return {"parts": len(parts)}       # JSON-able; stored as the task's result

Raise `tasks.errors.TransientTaskError` for a failure worth retrying; anything else fails the
task at once.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from tasks.errors import TaskCancelled, TaskTimedOut

PRIORITIES = ("high", "normal", "low")

TaskFunction = Callable[["TaskContext", dict], Any]


@dataclass(frozen=True)
class TaskType:
    name: str
    fn: TaskFunction
    schema: dict
    description: str
    priority: str = "normal"
    time_limit: int | None = None  # seconds; None = settings.TASKS_DEFAULT_TIMEOUT
    max_retries: int = 0
    retry_backoff: float = 2.0  # each retry waits this many times longer than the one before
    # Extra checks schemas cannot express (a template that must compile): raise ValueError.
    validate: Callable[[dict], None] | None = None
    # A default beat schedule: {"every": seconds} or {"crontab": "m h dom mon dow"}, and
    # optionally "payload"; installed as a django-celery-beat PeriodicTask by migrate.
    schedule: dict | None = None
    system_only: bool = False  # only the beat schedule / staff may run it (maintenance)
    validator: Draft202012Validator = field(repr=False, compare=False, default=None)

    def payload_errors(self, payload: Any) -> list[str]:
        """Every way `payload` breaks the schema, as 'path: message' lines (empty if valid)."""
        errors = sorted(self.validator.iter_errors(payload), key=lambda e: list(e.absolute_path))
        lines = []
        for error in errors:
            path = "/".join(str(p) for p in error.absolute_path)
            lines.append(f"{path}: {error.message}" if path else error.message)
        if not lines and self.validate is not None:
            try:
                self.validate(payload)
            except ValueError as exc:
                lines.append(str(exc))
        return lines

    def describe(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "schema": self.schema,
            "priority": self.priority,
            "time_limit": self.time_limit,
            "max_retries": self.max_retries,
            "retry_backoff": self.retry_backoff,
            "schedule": self.schedule,
            "system_only": self.system_only,
        }


_registry: dict[str, TaskType] = {}


def task_type(
    name: str,
    *,
    schema: dict,
    description: str,
    priority: str = "normal",
    time_limit: int | None = None,
    max_retries: int = 0,
    retry_backoff: float = 2.0,
    validate: Callable[[dict], None] | None = None,
    schedule: dict | None = None,
    system_only: bool = False,
):
    """Decorator registering `fn(ctx: TaskContext, payload: dict) -> JSON-able result`."""
    if priority not in PRIORITIES:
        raise ValueError(f"{name}: priority must be one of {PRIORITIES}")
    if time_limit is not None and time_limit < 1:
        raise ValueError(f"{name}: time_limit must be at least 1 second")
    if max_retries < 0 or retry_backoff < 1:
        raise ValueError(f"{name}: max_retries must be >= 0 and retry_backoff >= 1")
    if schedule is not None and not ({"every", "crontab"} & set(schedule)):
        raise ValueError(f"{name}: schedule needs 'every' (seconds) or 'crontab'")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"{name}: invalid payload schema: {exc.message}") from exc

    def register(fn: TaskFunction) -> TaskFunction:
        existing = _registry.get(name)
        if existing is not None and existing.fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"task type {name!r} is already registered by {existing.fn!r}")
        _registry[name] = TaskType(
            name=name,
            fn=fn,
            schema=schema,
            description=description,
            priority=priority,
            time_limit=time_limit,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            validate=validate,
            schedule=schedule,
            system_only=system_only,
            validator=Draft202012Validator(schema),
        )
        return fn

    return register


def get_task_type(name: str) -> TaskType:
    """The registered type, or KeyError."""
    return _registry[name]


def all_task_types() -> list[TaskType]:
    return sorted(_registry.values(), key=lambda t: t.name)


class TaskContext:
    """What a running task type sees: its record, who asked, progress and cancellation."""

    # Progress writes are throttled to one per this many seconds unless the percent changes.
    PROGRESS_MIN_INTERVAL = 0.5

    def __init__(self, record, *, deadline: float | None = None):
        self.record = record
        self._deadline = deadline  # time.monotonic() value after which the task has timed out
        self._last_progress: tuple[int, float] | None = None

    @property
    def task_id(self):
        return self.record.pk

    @property
    def workspace_id(self) -> int | None:
        return self.record.workspace_id

    @property
    def user_id(self) -> int | None:
        return self.record.submitted_by_id

    @property
    def actor(self):
        """The submitter as an accounts.scoping.Actor (None for system jobs), for calling other
        apps' services with the submitter's rights."""
        from accounts.scoping import Actor

        return Actor(user=self.record.submitted_by) if self.record.submitted_by_id else None

    @property
    def attempt(self) -> int:
        """1 on the first attempt, 2 on the first retry, ..."""
        return self.record.attempts

    def progress(self, percent: int, message: str = "") -> None:
        """Record progress (0-100) and publish `task.progress`."""
        from tasks import services

        percent = max(0, min(100, int(percent)))
        now = time.monotonic()
        last = self._last_progress
        if last and last[0] == percent and now - last[1] < self.PROGRESS_MIN_INTERVAL:
            return
        self._last_progress = (percent, now)
        services.record_progress(task=self.record, percent=percent, message=message)

    def is_cancelled(self) -> bool:
        from tasks.models import BackgroundTask, Status

        status = (
            BackgroundTask.objects.filter(pk=self.record.pk)
            .values_list("status", flat=True)
            .first()
        )
        return status in (None, Status.CANCELLED)

    def is_past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() > self._deadline

    def check_cancelled(self) -> None:
        """Raise TaskCancelled once cancelled, TaskTimedOut once past the time limit."""
        if self.is_cancelled():
            raise TaskCancelled(f"task {self.record.pk} was cancelled")
        if self.is_past_deadline():
            raise TaskTimedOut(f"exceeded its time limit of {self.record.timeout}s")

    def now(self):
        return timezone.now()
