"""The inline dispatcher: wake-ups kept in memory and run in this process, in due order (the
CLI's `--inline` mode, tests and benchmarks: no broker, no worker)."""

import heapq
import itertools
import time
from collections.abc import Callable

from workflows.engine.dispatch import Wakeup
from workflows.engine.steps import run_step


class InlineDispatcher:
    """Runs wake-ups in this process, in due order, until none is left."""

    in_process = True

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
        while self._heap:
            due, _, wakeup = heapq.heappop(self._heap)
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            run_step(wakeup.step_run_id, wakeup.lease_seconds, dispatcher=self)
            if after_each is not None:
                after_each(wakeup.step_run_id)
