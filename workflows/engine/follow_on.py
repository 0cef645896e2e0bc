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

If the worker dies between the commit and the claim, the successor is queued with no message
on its way: the lease sweep re-sends queued steps that nobody claimed (see sweep.py).
"""

import time

from django.conf import settings

from workflows.engine import dispatch
from workflows.engine.dispatch import CELERY, Dispatcher, Wakeup
from workflows.engine.steps import run_step


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
        # What follows a run goes where `inner` sends work: a worker's follow-on still queues
        # a finished run's indexing.
        self.in_process = getattr(inner, "in_process", False)

    def _fits(self, wakeup: Wakeup) -> bool:
        if self.limit_at is None:
            return True  # the task has no limit of its own
        timeout = wakeup.lease_seconds
        return timeout is not None and time.monotonic() + timeout <= self.limit_at

    def send(self, wakeups: list[Wakeup]) -> None:
        if self.kept is None and time.monotonic() < self.deadline:
            for wakeup in wakeups:
                if not wakeup.countdown and self._fits(wakeup):
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
    """`run_step`, then the successors it keeps, while within the time allowed; returns
    what happened to the first step. Everything else goes to `dispatcher`."""
    started = time.monotonic()
    deadline = started + settings.ENGINE_FOLLOW_ON_SECONDS
    limit_at = started + dispatch.soft_limit(lease_seconds) if lease_seconds else None
    first = None
    step: tuple[int, int | None] | None = (step_run_id, lease_seconds)
    while step is not None:
        keeper = KeepOne(dispatcher, deadline, limit_at)
        try:
            outcome = run_step(*step, dispatcher=keeper)
        except BaseException:
            if keeper.kept is not None:  # queued by a commit: it must reach a worker
                keeper.inner.send([keeper.kept])
            raise
        first = first or outcome
        step = (keeper.kept.step_run_id, keeper.kept.lease_seconds) if keeper.kept else None
    return first
