"""realtime.eager: a coroutine run at once up to its first wait, the rest in a task."""

import asyncio

import pytest

from realtime import eager

pytestmark = pytest.mark.asyncio


async def test_a_coroutine_that_never_waits_is_done_at_once():
    done = []

    async def write():
        done.append(1)

    assert eager.start(write()) is None
    assert done == [1]


async def test_its_error_is_raised_at_once():
    async def write():
        raise ConnectionError("gone")

    with pytest.raises(ConnectionError):
        eager.start(write())


async def test_one_that_waits_is_finished_by_whoever_awaits_the_rest():
    gate = asyncio.Event()
    steps = []

    async def write():
        steps.append("started")
        await gate.wait()
        await asyncio.sleep(0)  # a bare yield on the way
        steps.append("finished")
        return "result"

    rest = eager.start(write())
    assert rest is not None and steps == ["started"]

    async def finish():
        return await rest

    task = asyncio.get_running_loop().create_task(finish())
    await asyncio.sleep(0.01)
    assert steps == ["started"]
    gate.set()
    assert await task == "result"
    assert steps == ["started", "finished"]


async def test_cancelling_the_task_cancels_the_coroutine_where_it_waits():
    cleaned = []

    async def write():
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append(1)

    rest = eager.start(write())

    async def finish():
        await rest

    task = asyncio.get_running_loop().create_task(finish())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [1]


async def test_an_error_after_the_wait_reaches_the_awaiting_task():
    async def write():
        await asyncio.sleep(0.01)
        raise ConnectionError("gone meanwhile")

    rest = eager.start(write())

    async def finish():
        await rest

    with pytest.raises(ConnectionError):
        await asyncio.get_running_loop().create_task(finish())
