"""Leases that the running worker renews (a heartbeat).

A claim leases its step for ENGINE_LEASE_SECONDS only, whatever the step's timeout. While the
step runs, this process's heartbeat thread renews the lease every ENGINE_HEARTBEAT_SECONDS, so
a live worker keeps its step however long it legitimately takes, and a dead worker's step
(kill -9, a lost host) is free again within one lease plus one sweep: ~30-60 s, not its
timeout. Renewal stops at the step's timeout plus ENGINE_LEASE_GRACE_SECONDS: a step that runs
past that is given up by the sweep as before.

Each renewal is a conditional UPDATE on (id, status running, attempt): a step that was
cancelled or re-queued meanwhile is not renewed. One thread per process serves every step the
process runs (prefork children each have theirs; a threads pool shares one).
"""

import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from workflows.models import StepRun, StepStatus

logger = logging.getLogger(__name__)


def lease_until(now):
    return now + timedelta(seconds=settings.ENGINE_LEASE_SECONDS)


@dataclass(frozen=True)
class Held:
    step_run_id: int
    attempt: int
    renew_until: float  # time.monotonic() past which the lease is left to expire


class Heartbeat:
    def __init__(self):
        self.pid = os.getpid()
        self.held: dict[int, Held] = {}
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None

    def hold(self, held: Held) -> None:
        with self.lock:
            self.held[held.step_run_id] = held
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._loop, name="engine-lease-heartbeat", daemon=True
                )
                self.thread.start()

    def release(self, step_run_id: int) -> None:
        with self.lock:
            self.held.pop(step_run_id, None)

    def _loop(self) -> None:
        while True:
            self.wake.wait(settings.ENGINE_HEARTBEAT_SECONDS)
            self.wake.clear()
            with self.lock:
                now = time.monotonic()
                due = [h for h in self.held.values() if h.renew_until > now]
            if not due:
                continue
            try:
                renew(due)
            except Exception:  # the database is away: try again at the next beat
                logger.warning("lease heartbeat failed", exc_info=True)
                connection.close()
            finally:
                close_old_connections()


def renew(held: list[Held]) -> int:
    """Extend the leases of steps still running at the attempt this process holds."""
    until = lease_until(timezone.now())
    renewed = 0
    for item in held:
        renewed += StepRun.objects.filter(
            pk=item.step_run_id, status=StepStatus.RUNNING, attempts=item.attempt
        ).update(lease_expires_at=until)
    return renewed


_heartbeat: Heartbeat | None = None


def heartbeat() -> Heartbeat:
    global _heartbeat
    if _heartbeat is None or _heartbeat.pid != os.getpid():  # a forked child starts its own
        _heartbeat = Heartbeat()
    return _heartbeat


@contextmanager
def kept(step_run: StepRun):
    """Keep `step_run`'s lease renewed while the block runs (up to its timeout + grace)."""
    limit = step_run.timeout_seconds + settings.ENGINE_LEASE_GRACE_SECONDS
    held = Held(step_run.pk, step_run.attempts, time.monotonic() + limit)
    beat = heartbeat()
    beat.hold(held)
    try:
        yield
    finally:
        beat.release(step_run.pk)
