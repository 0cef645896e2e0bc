"""Running a coroutine eagerly: up to its first real wait, at once, without a task.

A fan-out hands one event to a thousand connections; a task per connection per event (created,
scheduled, stepped, destroyed, and often promoted by the garbage collector on the way) cost more
than the write itself. The ASGI server's `send` rarely waits: only when the client's socket
buffer is full. So the write is started here, in the caller's turn of the event loop, and only
a write that does have to wait becomes a task (what Python 3.12's eager tasks do).
"""

from collections.abc import Awaitable, Coroutine
from typing import Any


def start(coro: Coroutine[Any, Any, Any]) -> Awaitable[Any] | None:
    """Run `coro` until it finishes (None; its exception, if any, is raised here) or until it
    first has to wait: then an awaitable of the rest, which the caller must await (in a task),
    exactly as if it had awaited `coro` from the start."""
    try:
        yielded = coro.send(None)
    except StopIteration:
        return None
    return _Rest(coro, yielded)


class _Rest:
    """The rest of a coroutine that has already yielded `yielded` (the future it waits on, or
    None for a bare yield) to whoever runs it: handed on to the awaiting task, so the task
    waits on it, cancels it and resumes the coroutine as if it had awaited it directly (the
    delegation of `yield from`)."""

    __slots__ = ("coro", "yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any):
        self.coro, self.yielded = coro, yielded

    def __await__(self):
        coro, yielded = self.coro, self.yielded
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - thrown into the coroutine, as a task does
                step, arg = coro.throw, exc
            else:
                step, arg = coro.send, sent
            try:
                yielded = step(arg)
            except StopIteration as stop:
                return stop.value
