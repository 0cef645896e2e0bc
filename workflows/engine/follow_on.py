"""Follow-on: a worker that finishes a quick step runs the step it queued next itself.

Every step still goes through the database the same way: queued on commit, then claimed by
the conditional UPDATE, with its lease. What a follow-on saves is the trip through the
broker for one successor: its wake-up is kept in this process instead of being sent, and
this worker claims it at once. Everything else a step queues (a diamond's other branches,
retries with a delay) is sent to the queue as usual, so branches still run in parallel.

A worker follows on only while the message it took has kept it under
ENGINE_FOLLOW_ON_SECONDS: quick steps (templates, analysis, cached or fast models) run back
to back, while a slow model call hands its successor to the queue, where a higher-priority
run's step may come first. 0 turns it off.

When the successor's context is at hand (the documents the step wrote and read), the step's
own transaction also claims it (steps.HandOff): it is written queued and started at once, and
the worker runs it after the commit without a claim of its own. If the worker dies after the
commit, the successor is a running step whose lease nobody renews, re-queued by the lease
sweep (~30-45 s). A successor kept without a claim (its context must be read) is claimed
after the commit as usual; if the worker dies before that claim, it is queued with no message
on its way, and the sweep re-sends queued steps that nobody claimed (see sweep.py).
"""

import logging
import time

from django.conf import settings

from workflows.engine import dispatch
from workflows.engine.dispatch import CELERY, Dispatcher, Wakeup
from workflows.engine.steps import Claimed, run_claimed, run_step

logger = logging.getLogger(__name__)


class KeepOne:
    """A dispatcher that keeps the first wake-up due now for this worker (until `deadline`)
    and passes everything else to `inner`. The task's time limit comes from the first step's
    timeout (`limit_at`, monotonic): a successor is kept only if its own timeout fits in
    what is left of it, so every step still gets its whole timeout."""

    def __init__(self, inner: Dispatcher, deadline: float, limit_at: float | None = None):
        self.inner = inner
        self.deadline = deadline
        self.limit_at = limit_at
        self.kept: Wakeup | None = None
        self.handed: Claimed | None = None
        # What follows a run goes where `inner` sends work: a worker's follow-on still queues
        # a finished run's indexing.
        self.in_process = getattr(inner, "in_process", False)

    def _fits(self, timeout: int | None) -> bool:
        if self.limit_at is None:
            return True  # the task has no limit of its own
        return timeout is not None and time.monotonic() + timeout <= self.limit_at

    def would_keep(self, timeout: int | None) -> bool:
        """Whether a step due now with this timeout would be kept (steps.HandOff asks this
        before claiming it in its transaction)."""
        empty = self.kept is None and self.handed is None
        return empty and time.monotonic() < self.deadline and self._fits(timeout)

    def hand(self, claimed: Claimed) -> None:
        """The step claimed for this worker by the transaction that just committed."""
        self.handed = claimed

    def send(self, wakeups: list[Wakeup]) -> None:
        if self.kept is None and self.handed is None and time.monotonic() < self.deadline:
            for wakeup in wakeups:
                if not wakeup.countdown and self._fits(wakeup.lease_seconds):
                    self.kept = wakeup
                    wakeups = [other for other in wakeups if other is not wakeup]
                    break
        if wakeups:
            self.inner.send(wakeups)

    def revoke(self, task_ids: list[str]) -> None:
        self.inner.revoke(task_ids)


def run_with_follow_on(
    step_run_id: int, lease_seconds: int | None = None, *, dispatcher: Dispatcher = CELERY
) -> str:
    """`run_step`, then the successors it keeps or hands over claimed, while within the time
    allowed; returns what happened to the first step. Everything else goes to `dispatcher`."""
    started = time.monotonic()
    deadline = started + settings.ENGINE_FOLLOW_ON_SECONDS
    limit_at = started + dispatch.soft_limit(lease_seconds) if lease_seconds else None
    first = None
    step: tuple[int, int | None] | Claimed | None = (step_run_id, lease_seconds)
    while step is not None:
        keeper = KeepOne(dispatcher, deadline, limit_at)
        try:
            if isinstance(step, Claimed):
                outcome = run_claimed(step, dispatcher=keeper)
            else:
                outcome = run_step(*step, dispatcher=keeper)
        except BaseException:
            if keeper.kept is not None:  # queued by a commit: it must reach a worker
                keeper.inner.send([keeper.kept])
            if keeper.handed is not None:  # claimed by a commit: its lease will lapse
                logger.warning(
                    "a claimed successor is left to its lease",
                    extra={"step_run": keeper.handed.step_run.pk},
                )
            raise
        first = first or outcome
        if keeper.handed is not None:
            step = keeper.handed
        elif keeper.kept is not None:
            step = (keeper.kept.step_run_id, keeper.kept.lease_seconds)
        else:
            step = None
    return first
