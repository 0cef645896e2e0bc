"""Issue 12, item 3: no message drops a connection, every way a connection ends cleans up,
and a user's connections are limited."""

import asyncio
import json

import pytest
from channels.testing import WebsocketCommunicator

from config.testing import free_port
from realtime import rooms, stats
from realtime.consumers import CLOSE_FLOODING, CLOSE_TRY_AGAIN_LATER
from realtime.routing import websocket_application
from realtime.tests.conftest import WS_PATH, communicator, connected, request, token_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def counted(user) -> tuple[int, int]:
    here = stats.process_stats()
    return here.connections, here.users.get(user.pk, 0)


@pytest.mark.parametrize(
    "message",
    [
        '{"type": "join_room", "room": ' + "[" * 1_000 + "]" * 1_000 + "}",
        "[" * 1_000 + "]" * 1_000,
        '{"type": "ping", "ref": ' + '{"a":' * 900 + "1" + "}" * 900 + "}",
        '{"type": "join_room", "room": "lobby", "workspace_id": 1e400}',
        '{"type": "broadcast", "room": "lobby", "data": "\\ud800"}',
        '{"type": "join_workflow", "workflow_id": 99999999999999999999999}',
        '{"type": 7}',
        "\x00",
    ],
)
async def test_bad_messages_get_an_error_and_the_connection_stays(user, message):
    client = await connected(user)
    answer = await request(client, message)
    assert answer["type"] == "error"
    assert answer["data"]["code"] in {
        "too_deep",
        "malformed_json",
        "invalid_message",
        "not_in_room",
        "not_found",
    }, answer
    assert (await request(client, {"type": "ping"}))["type"] == "pong"
    await client.disconnect()


async def test_a_crash_mid_message_still_cleans_up(user, monkeypatch):
    """Whatever escapes a handler (here a bug in the room code), the connection answers and
    stays; and when its task dies outright, its statistics and rooms are undone."""
    before = counted(user)
    client = await connected(user)
    assert (await request(client, {"type": "join_room", "room": "lobby"}))["type"] == "room.joined"
    assert counted(user) == (before[0] + 1, before[1] + 1)
    room_group = next(g for g in stats.process_stats().groups if g.endswith(".lobby"))

    def broken(content, default):
        raise RecursionError("a bug")

    monkeypatch.setattr(rooms, "room_of", broken)
    answer = await request(client, {"type": "leave_room", "room": "lobby"})
    assert answer["type"] == "error" and answer["data"]["code"] == "server_error"
    assert (await request(client, {"type": "ping"}))["type"] == "pong"

    # The connection's task is cancelled (a server shutting down, a crash in Channels).
    client.future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await client.future
    assert counted(user) == before
    assert room_group not in stats.process_stats().groups


async def test_a_user_has_at_most_max_connections(user, other_user, settings):
    settings.REALTIME_MAX_CONNECTIONS = 3
    clients = [await connected(user) for _ in range(3)]
    extra = communicator(f"token={token_for(user)}")
    ok, _ = await extra.connect()
    assert ok  # accepted only to say why
    error = await extra.receive_json_from()
    assert error["type"] == "error" and error["data"]["code"] == "too_many_connections"
    closed = await extra.receive_output()
    assert closed == {"type": "websocket.close", "code": CLOSE_FLOODING}
    await extra.disconnect()
    # Someone else is not affected; a closed connection frees its place.
    other = await connected(other_user)
    await clients[0].disconnect()
    again = await connected(user)
    for client in (*clients[1:], other, again):
        await client.disconnect()


async def test_redis_down_at_the_handshake_is_try_again_later(user, settings):
    """The channel layer and the stats point at a Redis that does not answer: the client is
    told so (1013, `service_unavailable`), the server does not answer 500."""
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    before = counted(user)
    client = WebsocketCommunicator(websocket_application, f"{WS_PATH}?token={token_for(user)}")
    ok, _ = await client.connect()
    assert ok
    error = await client.receive_json_from()
    assert error["data"]["code"] == "service_unavailable"
    assert (await client.receive_output())["code"] == CLOSE_TRY_AGAIN_LATER
    await client.disconnect()
    assert counted(user) == before


async def test_binary_frames_are_refused_politely(user):
    client = await connected(user)
    await client.send_to(bytes_data=b"\x00\x01")
    answer = json.loads(await client.receive_from())
    assert answer["data"]["code"] == "invalid_message"
    assert (await request(client, {"type": "ping"}))["type"] == "pong"
    await client.disconnect()
