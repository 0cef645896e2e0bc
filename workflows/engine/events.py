"""The engine's events: payloads, and an outbox that sends a transaction's events together.

Every state change is published once its transaction commits (STYLE.md "Side effects"). An
outbox collects the events of one transaction and sends them in one go on commit, so a step
costs one trip to the channel layer, not one per event.
"""

import asyncio
import atexit
import logging
import os
import threading
from functools import partial

from django.db import transaction

from realtime.events import apublish
from realtime.groups import run_group, workflow_group, workspace_group
from workflows.models import Document, Run, StepRun

logger = logging.getLogger(__name__)


def groups_for(run: Run) -> list[str]:
    return [run_group(run.pk), workflow_group(run.workflow_id), workspace_group(run.workspace_id)]


def run_payload(run: Run) -> dict:
    return {
        "run_id": run.pk,
        "workflow_id": run.workflow_id,
        "workspace_id": run.workspace_id,
        "status": run.status,
        "error_code": run.error_code,
        "error": run.error,
        "tokens_in": run.tokens_in,
        "tokens_out": run.tokens_out,
        "cost": run.cost,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def step_payload(run: Run, step_run: StepRun) -> dict:
    return {
        "run_id": run.pk,
        "workflow_id": run.workflow_id,
        "step_run_id": step_run.pk,
        "step": step_run.key,
        "step_key": step_run.key,  # the name realtime's /realtime/ page reads
        "kind": step_run.kind,
        "status": step_run.status,
        "attempts": step_run.attempts,
        "max_attempts": step_run.max_attempts,
        "error_code": step_run.error_code,
        "error": step_run.error,
        "document_id": step_run.document_id,
        "tokens_in": step_run.tokens_in,
        "tokens_out": step_run.tokens_out,
        "cost": step_run.cost,
        "latency_ms": step_run.latency_ms,
    }


def document_payload(run: Run, document: Document) -> dict:
    return {
        "run_id": run.pk,
        "workflow_id": run.workflow_id,
        "document_id": document.pk,
        "step": document.step_key,
        "step_key": document.step_key,
        "title": document.title,
        "word_count": document.word_count,
    }


# Event names are the status, except "running", which is announced as "started".
_EVENT_FOR_STATUS = {"running": "started"}


class Outbox:
    """Events of one transaction; `flush_on_commit()` sends them after it commits."""

    def __init__(self, run: Run):
        self.groups = groups_for(run)
        self.items: list[tuple[str, dict]] = []
        self.wakeups: list = []

    def run(self, run: Run, event: str | None = None) -> None:
        event = event or _EVENT_FOR_STATUS.get(run.status, run.status)
        self.items.append((f"run.{event}", run_payload(run)))

    def step(self, run: Run, step_run: StepRun, event: str | None = None) -> None:
        event = event or _EVENT_FOR_STATUS.get(step_run.status, step_run.status)
        self.items.append((f"step.{event}", step_payload(run, step_run)))

    def document(self, run: Run, document: Document) -> None:
        self.items.append(("document.created", document_payload(run, document)))

    def wake(self, wakeups: list) -> None:
        """Steps to send to the workers, after this transaction's events (so that nobody
        hears "step.started" before the "step.queued" that led to it)."""
        self.wakeups.extend(wakeups)

    def flush_on_commit(self) -> None:
        if self.items or self.wakeups:
            from workflows.engine.dispatch import current

            dispatcher = current()
            transaction.on_commit(
                partial(_deliver, list(self.items), self.groups, list(self.wakeups), dispatcher)
            )
            self.items.clear()
            self.wakeups.clear()


def _deliver(items, groups, wakeups, dispatcher) -> None:
    if items:
        send(items, groups)
    if wakeups:
        dispatcher.send(wakeups)


async def _send_all(items: list[tuple[str, dict]], groups: list[str]) -> None:
    for event_type, data in items:
        await apublish(event_type, data, groups=groups)


PUBLISH_TIMEOUT_SECONDS = 5


class _Publisher:
    """One event loop per process, in a daemon thread, that sends every event in order.

    `async_to_sync` would make a fresh loop per call, and with it fresh connections to the
    channel layer (channels_redis pools connections per loop): ~10 ms a call. Here a step
    hands its events over and goes on; one consumer sends them in the order they came, so
    a process never reorders a run's events. (Two processes may, by a few ms: clients rely
    on snapshots, not on hearing every event in order.) Recreated after a fork (prefork
    workers), since a loop cannot cross one; drained at exit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._pending = 0
        self._idle = threading.Condition()
        self._pid = 0
        self._failing = False

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                self._queue = None
                self._pending = 0
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    self._queue = asyncio.Queue()
                    loop.create_task(self._consume())
                    ready.set()
                    loop.run_forever()

                threading.Thread(target=run, name="engine-events", daemon=True).start()
                ready.wait()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    async def _consume(self) -> None:
        while True:
            items, groups = await self._queue.get()
            try:
                await _send_all(items, groups)
                self._failing = False
            except Exception:
                # Said once (with the reason) until it works again, not once per event: a
                # process without a channel layer (the CLI on a bare machine) stays readable.
                if not self._failing:
                    logger.warning("engine events not published", exc_info=True)
                self._failing = True
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def send(self, items: list[tuple[str, dict]], groups: list[str]) -> None:
        loop = self._start()
        with self._idle:
            self._pending += 1
        loop.call_soon_threadsafe(self._queue.put_nowait, (items, groups))

    def drain(self, timeout: float = PUBLISH_TIMEOUT_SECONDS) -> bool:
        """Wait until every handed-over event has been sent (tests, exit)."""
        if self._pid != os.getpid():
            return True
        with self._idle:
            return self._idle.wait_for(lambda: self._pending <= 0, timeout=timeout)


_publisher = _Publisher()
atexit.register(_publisher.drain)
drain = _publisher.drain


def send(items: list[tuple[str, dict]], groups: list[str]) -> None:
    """A channel layer that is down is logged, not raised: the database stays the truth."""
    try:
        _publisher.send(items, groups)
    except Exception:
        logger.warning("engine events not published", exc_info=True)
