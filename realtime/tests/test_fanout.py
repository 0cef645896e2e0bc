"""The fan-out path: the process's hub hands a group's event to each local member, which writes
it at once (`realtime.eager`) unless its client is behind. Real consumers over
WebsocketCommunicator (in-memory channel layer); a client that stops reading is an ASGI `send`
that waits, as uvicorn's does while the client's socket buffer is full."""

import asyncio
import json

import pytest

from realtime import events, fanout, groups
from realtime.consumers import CLOSE_TOO_SLOW
from realtime.tests.conftest import connected, request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def stop_reading(consumer) -> asyncio.Event:
    """The consumer's client stops reading: its writes wait until the returned event is set
    (a close still goes out, as uvicorn's would once the buffer drains)."""
    reading = asyncio.Event()
    send = consumer.base_send

    async def waiting_send(message):
        if message["type"] == "websocket.send":
            await reading.wait()
        await send(message)

    consumer.base_send = waiting_send
    return reading


async def in_room(user, room: str = "r"):
    client = await connected(user)
    assert (await request(client, {"type": "join_room", "room": room}))["type"] == "room.joined"
    return client


async def test_an_event_reaches_every_local_member_once_and_no_other_workspace(
    user, other_user, workspace, other_workspace
):
    members = [await in_room(user) for _ in range(3)]
    # mallory has a room of the same name in her own workspace, and cannot join alice's.
    mallory = await in_room(other_user)
    error = await request(mallory, {"type": "join_room", "room": "r", "workspace_id": workspace.pk})
    assert error["data"]["code"] == "not_found"
    room = groups.room_group(workspace.pk, "r")
    assert len(fanout.hub().members[room]) == 3

    # Published to two groups each member is in (its room and its user): sent once.
    sent = await events.apublish(
        "run.progress", {"n": 1}, groups=[room, groups.user_group(user.pk)]
    )
    for client in members:
        assert await client.receive_json_from() == sent
        assert await client.receive_nothing(timeout=0.1)
    assert await mallory.receive_nothing(timeout=0.2)
    for client in (*members, mallory):
        await client.disconnect()


async def test_a_client_that_stops_reading_holds_up_only_itself(user, workspace):
    clients = [await in_room(user), await in_room(user)]
    room = groups.room_group(workspace.pk, "r")
    # Which consumer is whose client is not known from outside: stall one, then see which.
    slow_consumer = next(iter(fanout.hub().members[room]))
    reading = stop_reading(slow_consumer)
    sent = [await events.apublish("run.progress", {"n": n}, groups=[room]) for n in range(3)]

    heard_nothing = [await client.receive_nothing(timeout=0.3) for client in clients]
    assert sorted(heard_nothing) == [False, True]
    slow, fast = clients if heard_nothing[0] else clients[::-1]
    assert [await fast.receive_json_from() for _ in sent] == sent
    assert len(slow_consumer.queue) == 2  # one write waiting, two behind it

    reading.set()  # it reads again: everything, in order, once
    assert [await slow.receive_json_from() for _ in sent] == sent
    assert await slow.receive_nothing(timeout=0.1)
    for client in clients:
        await client.disconnect()


async def test_a_client_that_does_not_keep_up_is_closed(user, workspace, settings):
    settings.REALTIME_MAX_QUEUED_EVENTS = 2
    client = await in_room(user)
    room = groups.room_group(workspace.pk, "r")
    (consumer,) = fanout.hub().members[room]
    stop_reading(consumer)
    for n in range(5):  # one write waits, two queue behind it, the fourth is one too many
        event = events.make_event("run.progress", {"n": n})
        consumer.deliver({"type": "realtime.event", "events": [event], "group": room})
    outputs = []
    while (output := await client.receive_output(timeout=5))["type"] != "websocket.close":
        outputs.append(json.loads(output["text"])["data"]["n"])
    assert outputs == []  # what was queued is dropped with the connection
    assert output["code"] == CLOSE_TOO_SLOW
    await client.send_input({"type": "websocket.disconnect", "code": CLOSE_TOO_SLOW})
    await client.wait()
