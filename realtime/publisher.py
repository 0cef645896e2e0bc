"""The per-process publisher behind `realtime.events.publish` (sync code).

`async_to_sync` per event makes a fresh event loop and, with it, fresh connections to the
channel layer (channels_redis pools connections per loop): 2-10 ms an event. Here one event
loop per process, in a daemon thread, owns the connections; callers hand their events over
and go on. One consumer sends them in the order they came, so a process never reorders its
events. (Two processes may, by a few ms: clients rely on snapshots, not on hearing every
event in order.) Recreated after a fork (prefork workers), since a loop and its thread do
not survive one; drained at exit, so a command's last events are not lost. The consumer
waits REALTIME_PUBLISH_LINGER_MS after a handover and sends it together with those that came
meanwhile: one message per group for all of them (bench/tasks.py: the worker's two events
per task cost a fifth of its throughput when each went out alone).

Only `realtime.events` uses this module; apps call `realtime.events.publish(...)`.
"""

import asyncio
import atexit
import logging
import os
import threading
from typing import Any

from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers
from django.conf import settings

logger = logging.getLogger(__name__)

CHANNEL_MESSAGE_TYPE = "realtime.event"
DRAIN_TIMEOUT_SECONDS = 5
# Handovers merged into one send at most (a bulk submit's is one handover of thousands).
MAX_MERGED = 100

# One handover: events, each with the groups it goes to, sent in this order.
Batch = list[tuple[dict[str, Any], list[str]]]


async def send_batch(layer, batch: Batch) -> None:
    """One channel-layer message per group, carrying that group's events of the batch in
    their order: a step's few events reach its run, workflow and workspace groups in three
    sends, not three per event (each send is a Redis round trip, and a worker's CPU)."""
    per_group: dict[str, list[dict[str, Any]]] = {}
    for event, groups in batch:
        for group in dict.fromkeys(groups):
            per_group.setdefault(group, []).append(event)
    for group, events in per_group.items():
        await layer.group_send(
            group, {"type": CHANNEL_MESSAGE_TYPE, "events": events, "group": group}
        )


def _merged(handovers: list[tuple[Any, Batch]]) -> list[tuple[Any, Batch]]:
    """Consecutive handovers for the same layer as one batch, in order."""
    out: list[tuple[Any, Batch]] = []
    for layer, batch in handovers:
        if out and out[-1][0] is layer:
            out[-1][1].extend(batch)
        else:
            out.append((layer, list(batch)))
    return out


class Publisher:
    """One event loop in a daemon thread per process; `send()` never blocks on the layer."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # Also run in a forked child: the parent's thread is gone there, and its lock may have
        # been held at the fork.
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._waiting: list[tuple[Any, Batch]] = []  # handed over, not yet taken (under _idle)
        self._woken = False  # a wake-up is on its way to the loop (under _idle)
        self._pending = 0
        self._pid = 0
        self._failing = False
        self._shared = None  # the configured layer that `_own` stands in for
        self._own = None

    def _layer_for(self, shared):
        """The publisher's own instance of the configured layer (a new one when the setting
        changes): its connections then belong to the publisher's loop alone, and nobody's
        `flush()`/`close_pools()` on the shared instance, from another loop, closes them
        under the publisher."""
        with self._lock:
            if shared is not self._shared:
                self._own = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
                self._shared = shared
            return self._own

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                self._pending = 0
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    self._wakeup = asyncio.Event()
                    loop.create_task(self._consume())
                    ready.set()
                    loop.run_forever()

                threading.Thread(target=run, name="realtime-publisher", daemon=True).start()
                ready.wait()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    async def _consume(self) -> None:
        while True:
            await self._wakeup.wait()
            with self._idle:
                backlog = len(self._waiting) >= MAX_MERGED  # then no waiting for more
            if (linger := settings.REALTIME_PUBLISH_LINGER_MS) and not backlog:
                # Let the handovers of the next few ms join this send: a worker's task
                # publishes `started` and, a ms later, `succeeded` to the same two groups;
                # sent together they cost one Redis PUBLISH per group, not one per event,
                # and the sender wakes this loop once, not per event.
                await asyncio.sleep(linger / 1000)
            with self._idle:
                handovers = self._waiting[:MAX_MERGED]
                del self._waiting[:MAX_MERGED]
                if not self._waiting:
                    self._wakeup.clear()
                    self._woken = False
            try:
                for layer, batch in _merged(handovers):
                    await self._send(layer, batch)
            finally:
                with self._idle:
                    self._pending -= len(handovers)
                    self._idle.notify_all()

    async def _send(self, layer, batch: Batch) -> None:
        try:
            await send_batch(layer, batch)
            self._failing = False
        except Exception as exc:
            # Said once, in one line with the reason, until it works again: a process
            # without a channel layer (the CLI on a bare machine) stays readable. The
            # database keeps the truth; clients catch up from snapshots.
            if not self._failing:
                logger.warning(
                    "realtime events not published (%s: %s); "
                    "will say so again only after it has worked",
                    type(exc).__name__,
                    exc,
                )
            self._failing = True

    def send(self, layer, batch: Batch) -> None:
        """Hand a batch over for `layer` (the configured one); it is sent after every batch
        handed over before it."""
        loop = self._start()
        layer = self._layer_for(layer)
        with self._idle:
            self._pending += 1
            self._waiting.append((layer, batch))
            wake, self._woken = not self._woken, True
        if wake:
            try:
                loop.call_soon_threadsafe(self._wakeup.set)
            except Exception:
                with self._idle:
                    self._woken = False  # the next handover tries to wake it again
                raise

    def drain(self, timeout: float = DRAIN_TIMEOUT_SECONDS) -> bool:
        """Wait until every batch handed over so far has been sent (or failed); False if
        `timeout` passed first."""
        if self._pid != os.getpid():
            return True  # nothing was handed over in this process
        with self._idle:
            return self._idle.wait_for(lambda: self._pending <= 0, timeout=timeout)


publisher = Publisher()
atexit.register(publisher.drain)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=publisher._reset)
