"""A connection's send queue: the events waiting to be written to one client, in order, each
once, by one writer task. (Not the engine's outbox of Celery messages: this one holds text for a
socket.)

An event is written at once when nothing is waiting to be written before it (`realtime.eager`:
no task unless the write has to wait, which it does only when the client's socket buffer is
full); otherwise it waits its turn behind the writer task. A slow client holds up only itself.
One that stops reading would hold events in memory without end: past `max_queued` the queue
empties and `on_overflow` is called (the consumer closes the connection; the client reconnects
and catches up from snapshots).
"""

import asyncio
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable

from realtime import eager
from realtime.serialization import RECENT_EVENTS, serialized


class SendQueue:
    def __init__(
        self,
        *,
        write: Callable[[str], Awaitable[None]],
        max_queued: int,
        on_overflow: Callable[[], None],
        on_written: Callable[[], None] = lambda: None,
    ):
        self._write_text = write
        self.max_queued = max_queued
        self.on_overflow = on_overflow
        self.on_written = on_written
        self._texts: deque[str] = deque()
        # An event published to two groups the connection is in (a run and its workflow) is
        # sent once.
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._writer: asyncio.Task | None = None
        self.closed = False

    def __len__(self) -> int:
        return len(self._texts)

    def put(self, event: dict) -> None:
        if self.closed:
            return
        event_id = event.get("id")
        if event_id in self._seen:
            return
        self._seen[event_id] = None
        if len(self._seen) > RECENT_EVENTS:
            self._seen.popitem(last=False)
        if len(self._texts) >= self.max_queued:
            self.close()
            self.on_overflow()
            return
        text = serialized(event)
        if self._writer is not None and not self._writer.done():
            self._texts.append(text)  # the writer is waiting on an earlier write: behind it
            return
        try:
            rest = eager.start(self._write_text(text))
        except Exception:  # the client went away; the consumer's cleanup follows
            return
        if rest is None:
            self.on_written()
        else:
            self._writer = asyncio.get_running_loop().create_task(self._drain(rest))

    async def _drain(self, started) -> None:
        """Finish the write that had to wait, then write what queued up behind it."""
        try:
            await started
            self.on_written()
            while self._texts:
                await self._write_text(self._texts.popleft())
                self.on_written()
        except Exception:  # the client went away; the consumer's cleanup follows
            self._texts.clear()

    def close(self) -> None:
        """Nothing more is sent from the queue (what is waiting is dropped)."""
        self.closed = True
        self._texts.clear()
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()
