"""How queued steps reach a worker: the one seam between the engine and Celery.

The engine marks a StepRun queued in the database and, on commit, hands a `Wakeup` to the
dispatcher its caller passed (every engine verb takes `dispatcher=`). `CELERY` (the default)
sends a `workflows.execute_step` message on the run's priority queue; `inline.InlineDispatcher`
keeps the wake-ups in memory and runs them in this process (the CLI's `--inline` mode: no
broker, no worker, plain SQLite is enough).
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.celery_app import app
from workflows.models import StepRun, StepStatus

logger = logging.getLogger(__name__)

# The Celery task (workflows/tasks.py) that runs a step: a stable name, sent by name so the
# engine does not import the task module that imports it.
EXECUTE_STEP_TASK = "workflows.execute_step"


@dataclass(frozen=True)
class Wakeup:
    step_run_id: int
    task_id: str
    queue: str
    countdown: float = 0.0
    # The step's timeout: the task's time limits (the name is the message's, kept stable).
    lease_seconds: int | None = None


def new_task_id() -> str:
    return uuid.uuid4().hex


class Dispatcher(Protocol):
    # True when wake-ups run in this process (no broker): work that follows a run (indexing)
    # then runs here too.
    in_process: bool

    def send(self, wakeups: list[Wakeup]) -> None: ...

    def revoke(self, task_ids: list[str]) -> None: ...


def _resend_soon(step_run_ids: list[int]) -> None:
    """The broker is down: the steps stay queued in the database, marked so that the next
    sweep once the broker is back sends them again (a run started now starts then)."""
    stale = timezone.now() - timedelta(seconds=settings.ENGINE_STALE_QUEUED_SECONDS + 1)
    try:
        StepRun.objects.filter(pk__in=step_run_ids, status=StepStatus.QUEUED).update(
            queued_at=stale
        )
    except Exception:  # then the stale-queued sweep finds them later, as it finds any loss
        logger.warning("could not mark unsent steps for the sweep", exc_info=True)


def soft_limit(timeout_seconds: int) -> float:
    """A step's task may run its timeout, plus the moment in which it may take on a successor
    (follow-on: a successor is taken only if its own timeout fits in what is left)."""
    return timeout_seconds + settings.ENGINE_FOLLOW_ON_SECONDS


def time_limits(timeout_seconds: int | None) -> dict:
    """The task's limits from the step's own timeout: the soft limit ends the step as a
    retryable `step_timeout`; the hard one (ENGINE_LEASE_GRACE_SECONDS later) ends the process
    of a step that ignores it. Without a timeout (an old message), Celery's defaults apply."""
    if not timeout_seconds:
        return {}
    soft = soft_limit(timeout_seconds)
    return {"soft_time_limit": soft, "time_limit": soft + settings.ENGINE_LEASE_GRACE_SECONDS}


class CeleryDispatcher:
    in_process = False

    def send(self, wakeups: list[Wakeup]) -> None:
        unsent = []
        for wakeup in wakeups:
            try:
                app.send_task(
                    EXECUTE_STEP_TASK,
                    args=[wakeup.step_run_id, wakeup.lease_seconds],
                    queue=wakeup.queue,
                    task_id=wakeup.task_id,
                    countdown=wakeup.countdown or None,
                    **time_limits(wakeup.lease_seconds),
                )
            except Exception:
                logger.exception("could not send a step to the broker", extra={"wakeup": wakeup})
                unsent.append(wakeup.step_run_id)
        if unsent:
            _resend_soon(unsent)

    def revoke(self, task_ids: list[str]) -> None:
        if not task_ids:
            return
        try:
            app.control.revoke(task_ids)
        except Exception:
            # Only an optimisation: a revoked-too-late message finds its step cancelled.
            logger.warning("could not revoke queued steps", exc_info=True)


CELERY = CeleryDispatcher()


def send_on_commit(wakeups: list[Wakeup], dispatcher: Dispatcher) -> None:
    if wakeups:
        transaction.on_commit(partial(dispatcher.send, list(wakeups)))


def revoke_on_commit(task_ids: list[str], dispatcher: Dispatcher) -> None:
    if task_ids:
        transaction.on_commit(partial(dispatcher.revoke, list(task_ids)))
