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
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


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


def _resend_soon(step_run_ids: list[int]) -> None:
    """The broker is down: the steps stay queued in the database, marked so that the next
    sweep once the broker is back sends them again (a run started now starts then)."""
    from workflows.models import StepRun, StepStatus

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
    def send(self, wakeups: list[Wakeup]) -> None:
        from workflows.tasks import execute_step

        unsent = []
        for wakeup in wakeups:
            try:
                execute_step.apply_async(
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
