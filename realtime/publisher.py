"""The per-process publisher behind `realtime.events.publish` (sync code).

Callers hand their events over and go on; one daemon thread per process sends them in the
order they came, so a process never reorders its events. (Two processes may, by a few ms:
clients rely on snapshots, not on hearing every event in order.) The thread waits
REALTIME_PUBLISH_LINGER_MS after a handover and sends it together with those that came
meanwhile: one message per group for all of them (bench/tasks.py: the worker's two events per
task cost a fifth of its throughput when each went out alone). How it sends is
`realtime.sinks`: a synchronous Redis pipeline for the pub/sub layer, the layer's async API on
a loop of the thread's own for any other. Recreated after a fork (prefork workers), since a
thread does not survive one; drained at exit, so a command's last events are not lost.

Only `realtime.events` uses this module; apps call `realtime.events.publish(...)`.
"""

import atexit
import logging
import os
import threading
import time
from typing import Any

from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers
from django.conf import settings

from realtime.sinks import AsyncSink, Batch, PubSubSink

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT_SECONDS = 5
# Handovers merged into one send at most (a bulk submit's is one handover of thousands).
MAX_MERGED = 100
# Handovers kept waiting at most: past it the oldest is dropped (events are at-most-once;
# clients catch up from snapshots), so a Redis that hangs does not grow a busy process.
MAX_WAITING = 10_000


def _merged(handovers: list[tuple[Any, Batch]]) -> list[tuple[Any, Batch]]:
    """Consecutive handovers for the same sink as one batch, in order."""
    out: list[tuple[Any, Batch]] = []
    for sink, batch in handovers:
        if out and out[-1][0] is sink:
            out[-1][1].extend(batch)
        else:
            out.append((sink, list(batch)))
    return out


class Publisher:
    """One daemon thread per process; `send()` never blocks on the layer."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # Also run in a forked child: the parent's thread is gone there, and its locks may
        # have been held at the fork.
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # something was handed over
        self._idle = threading.Condition(self._lock)  # something was sent (or failed)
        self._waiting: list[tuple[Any, Batch]] = []  # handed over, not yet taken
        self._pending = 0  # handed over, not yet sent
        self._dropped = 0  # handovers dropped since the last warning about it
        self._pid = 0  # the process whose thread is running
        self._failing = False
        self._shared = None  # the configured layer that `_sink` stands in for
        self._sink = None

    def _sink_for(self, shared):
        """How to send to the configured layer (a new sink when the setting changes). It
        publishes through a layer instance of its own: nobody's `flush()`/`close_pools()`
        on the shared one, from another loop, closes its connections under it."""
        if shared is not self._shared:
            own = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
            config = settings.CHANNEL_LAYERS[DEFAULT_CHANNEL_LAYER].get("CONFIG", {})
            use_pubsub = PubSubSink.supports(own, config)
            self._sink = PubSubSink(own, config) if use_pubsub else AsyncSink(own)
            self._shared = shared
        return self._sink

    def _consume(self) -> None:
        while True:
            with self._lock:
                self._work.wait_for(lambda: self._waiting)
                backlog = len(self._waiting) >= MAX_MERGED  # then no waiting for more
            if (linger := settings.REALTIME_PUBLISH_LINGER_MS) and not backlog:
                # Let the handovers of the next few ms join this send: a worker's task
                # publishes `started` and, a ms later, `succeeded` to the same two groups;
                # sent together they cost one Redis PUBLISH per group, not one per event.
                time.sleep(linger / 1000)
            with self._lock:
                handovers = self._waiting[:MAX_MERGED]
                del self._waiting[:MAX_MERGED]
                dropped, self._dropped = self._dropped, 0
            if dropped:
                logger.warning(
                    "realtime publisher: %d handover(s) of events dropped, the oldest first: "
                    "the channel layer did not keep up",
                    dropped,
                )
            try:
                for sink, batch in _merged(handovers):
                    self._send(sink, batch)
            finally:
                with self._lock:
                    self._pending -= len(handovers)
                    self._idle.notify_all()

    def _send(self, sink, batch: Batch) -> None:
        try:
            sink.send(batch)
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
        with self._lock:
            if self._pid != os.getpid():
                thread = threading.Thread(target=self._consume, name="realtime-publisher")
                thread.daemon = True
                thread.start()
                self._pid = os.getpid()
            if len(self._waiting) >= MAX_WAITING:
                del self._waiting[0]
                self._pending -= 1
                self._dropped += 1
            self._waiting.append((self._sink_for(layer), batch))
            self._pending += 1
            self._work.notify()

    def drain(self, timeout: float = DRAIN_TIMEOUT_SECONDS) -> bool:
        """Wait until every batch handed over so far has been sent (or failed); False if
        `timeout` passed first."""
        if self._pid != os.getpid():
            return True  # nothing was handed over in this process
        with self._lock:
            return self._idle.wait_for(lambda: self._pending <= 0, timeout=timeout)


publisher = Publisher()
atexit.register(publisher.drain)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=publisher._reset)
