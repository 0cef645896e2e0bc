"""How queued steps reach a worker: the one seam between the engine and Celery.

The engine marks a StepRun queued in the database and, on commit, hands a `Wakeup` to the
current dispatcher. `CeleryDispatcher` (the default) sends a `workflows.execute_step` message
on the run's priority queue; `InlineDispatcher` keeps the wake-ups in memory and runs them in
this process (the CLI's `--inline` mode: no broker, no worker, plain SQLite is enough).
"""

import heapq
import itertools
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Wakeup:
    step_run_id: int
    task_id: str
    queue: str
    countdown: float = 0.0
    # The step's timeout, so the worker can claim it with its lease in its first query.
    lease_seconds: int | None = None


def new_task_id() -> str:
    return uuid.uuid4().hex


class CeleryDispatcher:
    def send(self, wakeups: list[Wakeup]) -> None:
        from workflows.tasks import execute_step

        for wakeup in wakeups:
            try:
                execute_step.apply_async(
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
        from config.celery_app import app

        try:
            app.control.revoke(task_ids)
        except Exception:
            # Only an optimisation: a revoked-too-late message finds its step cancelled.
            logger.warning("could not revoke queued steps", exc_info=True)


class InlineDispatcher:
    """Runs wake-ups in this process, in due order, until none is left."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Wakeup]] = []
        self._order = itertools.count()

    def send(self, wakeups: list[Wakeup]) -> None:
        now = time.monotonic()
        for wakeup in wakeups:
            item = (now + wakeup.countdown, next(self._order), wakeup)
            heapq.heappush(self._heap, item)

    def revoke(self, task_ids: list[str]) -> None:
        """Nothing to do: a cancelled step's claim fails and the wake-up is dropped."""

    def pending(self) -> list[Wakeup]:
        """The wake-ups not run yet, in due order."""
        return [wakeup for _, _, wakeup in sorted(self._heap)]

    def drain(self, after_each: Callable[[int], None] | None = None) -> None:
        from workflows.engine.steps import execute_step

        while self._heap:
            due, _, wakeup = heapq.heappop(self._heap)
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            execute_step(wakeup.step_run_id, wakeup.lease_seconds)
            if after_each is not None:
                after_each(wakeup.step_run_id)


_DEFAULT = CeleryDispatcher()
_current: ContextVar = ContextVar("workflows_dispatcher", default=_DEFAULT)


def current():
    return _current.get()


@contextmanager
def use(dispatcher) -> Iterator:
    token = _current.set(dispatcher)
    try:
        yield dispatcher
    finally:
        _current.reset(token)


def send_on_commit(wakeups: list[Wakeup]) -> None:
    if wakeups:
        transaction.on_commit(partial(current().send, list(wakeups)))


def revoke_on_commit(task_ids: list[str]) -> None:
    if task_ids:
        transaction.on_commit(partial(current().revoke, list(task_ids)))
