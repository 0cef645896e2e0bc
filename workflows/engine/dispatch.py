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
from functools import partial
from typing import Protocol

from django.db import transaction

from config.celery_app import app

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Wakeup:
    step_run_id: int
    task_id: str
    queue: str
    countdown: float = 0.0
    # The step's timeout, so the worker can claim it with its lease in its first query.
    lease_seconds: int | None = None


# The Celery task (workflows/tasks.py) that runs a step: a stable name, sent by name so the
# engine does not import the task module that imports it.
EXECUTE_STEP_TASK = "workflows.execute_step"


def new_task_id() -> str:
    return uuid.uuid4().hex


class Dispatcher(Protocol):
    def send(self, wakeups: list[Wakeup]) -> None: ...

    def revoke(self, task_ids: list[str]) -> None: ...


class CeleryDispatcher:
    def send(self, wakeups: list[Wakeup]) -> None:
        for wakeup in wakeups:
            try:
                app.send_task(
                    EXECUTE_STEP_TASK,
                    args=[wakeup.step_run_id, wakeup.lease_seconds],
                    queue=wakeup.queue,
                    task_id=wakeup.task_id,
                    countdown=wakeup.countdown or None,
                )
            except Exception:
                # The step stays queued in the database; the sweep resends lost wake-ups.
                logger.exception("could not send a step to the broker", extra={"wakeup": wakeup})

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
