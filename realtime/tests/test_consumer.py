"""The consumer's logic over WebsocketCommunicator (in-memory channel layer)."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import services
from accounts.models import Role
from accounts.scoping import Actor
from realtime import events, groups
from realtime.consumers import CLOSE_FLOODING, CLOSE_UNAUTHENTICATED
from realtime.tests.conftest import communicator, connected, request, token_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def refused(query: str = "", headers=None) -> int:
    client = communicator(query, headers)
    ok, code = await client.connect()
    assert not ok
    return code


# --- authentication ---------------------------------------------------------------------------
async def test_no_credential_is_refused_before_accept(user):
    assert await refused() == CLOSE_UNAUTHENTICATED
    assert await refused("connection_id=test123&user_id=1") == CLOSE_UNAUTHENTICATED


async def test_invalid_expired_and_wrong_type_tokens_are_refused(user):
    expired = AccessToken(token_for(user))
    expired.set_exp(lifetime=-timedelta(seconds=1))
    refresh = await sync_to_async(RefreshToken.for_user)(user)  # not an access token
    for token in ("not-a-jwt", str(expired), str(refresh), token_for(user)[:-4] + "AAAA"):
        assert await refused(f"token={token}") == CLOSE_UNAUTHENTICATED
        assert await refused(headers=[(b"authorization", f"Bearer {token}".encode())]) == 4401


async def test_token_of_an_inactive_user_is_refused(user):
    token = token_for(user)
    user.is_active = False
    await user.asave()
    assert await refused(f"token={token}") == CLOSE_UNAUTHENTICATED


async def test_the_connection_ends_when_its_token_expires(user):
    token = AccessToken(token_for(user))
    token.set_exp(lifetime=timedelta(seconds=1))
    client = await connected(query=f"token={token}")
    error = await client.receive_json_from(timeout=10)
    assert error["type"] == "error" and error["data"]["code"] == "token_expired"
    closed = await client.receive_output(timeout=5)
    assert closed["type"] == "websocket.close" and closed["code"] == CLOSE_UNAUTHENTICATED
    await client.send_input({"type": "websocket.disconnect", "code": CLOSE_UNAUTHENTICATED})
    await client.wait()


async def test_a_bad_credential_does_not_fall_back_to_anything(user):
    assert await refused(headers=[(b"authorization", b"Basic YWxpY2U6eA==")]) == 4401
    assert await refused(headers=[(b"authorization", b"Bearer")]) == 4401


async def test_user_id_in_the_url_is_ignored(user, other_user):
    client = communicator(f"connection_id=test123&user_id={other_user.pk}&token={token_for(user)}")
    ok, _ = await client.connect()
    assert ok
    ready = await client.receive_json_from()
    assert ready["data"]["user_id"] == user.pk
    assert ready["data"]["connection_id"] == "test123"
    await client.disconnect()


async def test_jwt_in_the_authorization_header_is_accepted(user, workspace):
    client = await connected(headers=[(b"authorization", f"Bearer {token_for(user)}".encode())])
    assert (await request(client, {"type": "ping"}))["type"] == "pong"
    await client.disconnect()


def make_key(user, workspace, **extra):
    return sync_to_async(services.create_api_key)(
        actor=Actor(user), workspace=workspace, name="ws", scopes=["read"], **extra
    )


async def test_api_keys_in_query_or_header_are_accepted_and_bad_ones_refused(user, workspace):
    _, secret = await make_key(user, workspace)
    for kwargs in (
        {"query": f"api_key={secret}"},
        {"headers": [(b"authorization", f"Api-Key {secret}".encode())]},
    ):
        client = communicator(**kwargs)
        ok, _ = await client.connect()
        assert ok
        ready = await client.receive_json_from()
        assert ready["data"]["user_id"] == user.pk
        assert ready["data"]["workspace_id"] == workspace.pk
        await client.disconnect()
    assert await refused(f"api_key={secret[:-3]}xyz") == CLOSE_UNAUTHENTICATED
    assert await refused(headers=[(b"authorization", b"Api-Key abcdefgh.nope")]) == 4401


async def test_expired_api_key_is_refused(user, workspace):
    from django.utils import timezone

    _, secret = await make_key(user, workspace, expires_at=timezone.now() + timedelta(seconds=60))
    from accounts.models import ApiKey

    await ApiKey.objects.filter(workspace=workspace).aupdate(
        expiry_date=timezone.now() - timedelta(seconds=1)
    )
    assert await refused(f"api_key={secret}") == CLOSE_UNAUTHENTICATED


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def test_session_is_accepted_only_from_a_same_origin_page(user):
    cookie = await sync_to_async(session_cookie)(user)
    base = [(b"cookie", cookie), (b"host", b"testserver")]
    client = await connected(headers=[*base, (b"origin", b"http://testserver")])
    await client.disconnect()
    assert await refused(headers=base) == CLOSE_UNAUTHENTICATED  # no Origin
    assert await refused(headers=[*base, (b"origin", b"https://evil.example")]) == 4401
    # A bad token next to a good session is still a bad token.
    same = [*base, (b"origin", b"http://testserver")]
    assert await refused("token=forged", headers=same) == CLOSE_UNAUTHENTICATED


# --- messages -----------------------------------------------------------------------------------
async def test_ping_is_answered_by_pong_echoing_ref(user):
    client = await connected(user)
    pong = await request(client, {"type": "ping", "ref": 7})
    assert pong["type"] == "pong" and pong["data"] == {"ref": 7}
    assert set(pong) == {"type", "id", "ts", "data"}
    await client.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "malformed_json"),
        ("[1, 2]", "invalid_message"),
        ('{"no": "type"}', "invalid_message"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "join_nothing", "nothing_id": 1}', "unknown_type"),
        ('{"type": "join_room", "room": "a.b"}', "invalid_message"),
        ('{"type": "join_room", "room": "lobby", "workspace_id": "x"}', "invalid_message"),
    ],
)
async def test_bad_messages_get_an_error_event_and_the_connection_stays_open(user, frame, code):
    client = await connected(user)
    error = await request(client, frame)
    assert error["type"] == "error"
    assert error["data"]["code"] == code
    assert error["data"]["message"]
    assert (await request(client, {"type": "ping"}))["type"] == "pong"
    await client.disconnect()


async def test_binary_frames_and_oversize_messages_are_errors(user, settings):
    settings.REALTIME_MAX_MESSAGE_BYTES = 100
    client = await connected(user)
    await client.send_to(bytes_data=b"\x00\x01")
    assert (await client.receive_json_from())["data"]["code"] == "invalid_message"
    error = await request(client, {"type": "ping", "pad": "x" * 200})
    assert error["data"]["code"] == "message_too_large"
    assert (await request(client, {"type": "ping"}))["type"] == "pong"
    await client.disconnect()


# --- topics ---------------------------------------------------------------------------------
async def test_join_topic_sends_a_snapshot_then_events(user, workspace):
    client = await connected(user)
    snapshot = await request(client, {"type": "join_workspace", "workspace_id": workspace.pk})
    assert snapshot["type"] == "workspace.snapshot"
    assert snapshot["data"]["workspace"]["id"] == workspace.pk
    assert snapshot["data"]["members"] == [
        {"user_id": user.pk, "username": "alice", "role": Role.OWNER}
    ]
    sent = await events.apublish(
        "step.succeeded", {"run_id": 1}, groups=[groups.workspace_group(workspace.pk)]
    )
    assert await client.receive_json_from() == sent
    await client.disconnect()


async def test_join_of_another_workspaces_object_is_an_error_not_a_close(user, other_workspace):
    client = await connected(user)
    error = await request(client, {"type": "join_workspace", "workspace_id": other_workspace.pk})
    assert error["type"] == "error" and error["data"]["code"] == "not_found"
    # Nothing published there reaches the refused client.
    await events.apublish("run.started", {}, groups=[groups.workspace_group(other_workspace.pk)])
    assert await client.receive_nothing(timeout=0.2)
    assert (await request(client, {"type": "ping"}))["type"] == "pong"
    await client.disconnect()


async def test_join_with_a_bad_id_is_an_error(user):
    client = await connected(user)
    for bad in ("1", 0, -3, True, None):
        error = await request(client, {"type": "join_workspace", "workspace_id": bad})
        assert error["data"]["code"] == "invalid_message"
    await client.disconnect()


async def test_after_leave_no_more_events(user, workspace):
    client = await connected(user)
    await request(client, {"type": "join_workspace", "workspace_id": workspace.pk})
    left = await request(client, {"type": "leave_workspace", "workspace_id": workspace.pk})
    assert left["type"] == "workspace.left" and left["data"] == {"workspace_id": workspace.pk}
    await events.apublish("run.started", {}, groups=[groups.workspace_group(workspace.pk)])
    assert await client.receive_nothing(timeout=0.2)
    await client.disconnect()


async def test_an_event_sent_to_two_joined_groups_arrives_once(user, workspace):
    client = await connected(user)
    await request(client, {"type": "join_workspace", "workspace_id": workspace.pk})
    sent = await events.apublish(
        "run.succeeded",
        {"run_id": 3},
        groups=[groups.workspace_group(workspace.pk), groups.user_group(user.pk)],
    )
    assert await client.receive_json_from() == sent
    assert await client.receive_nothing(timeout=0.2)
    await client.disconnect()


async def test_every_connection_hears_its_own_user_group_only(user, other_user):
    alice, mallory = await connected(user), await connected(other_user)
    sent = await events.apublish(
        "notification.created", {"n": 1}, groups=[groups.user_group(user.pk)]
    )
    assert await alice.receive_json_from() == sent
    assert await mallory.receive_nothing(timeout=0.2)
    await alice.disconnect()
    await mallory.disconnect()


async def test_events_naming_a_group_the_client_is_not_in_are_dropped(user, workspace):
    """A message still in flight for a group the client has left (or whose join was refused)
    names that group; the consumer drops it."""
    client = await connected(user)
    await request(client, {"type": "join_room", "room": "r"})
    room = groups.room_group(workspace.pk, "r")
    layer = get_channel_layer()
    stale = events.make_event("run.started", {"stale": True})
    await layer.group_send(room, {"type": "realtime.event", "events": [stale], "group": "run.99"})
    fresh = events.make_event("run.started", {"stale": False})
    await layer.group_send(room, {"type": "realtime.event", "events": [fresh], "group": room})
    assert await client.receive_json_from() == fresh
    await client.disconnect()


# --- rooms --------------------------------------------------------------------------------------
async def test_rooms_of_the_same_name_in_two_workspaces_never_meet(
    user, other_user, workspace, other_workspace
):
    alice, mallory = await connected(user), await connected(other_user)
    joined = await request(alice, {"type": "join_room", "room": "lobby"})
    assert joined["type"] == "room.joined"
    assert joined["data"] == {"room": "lobby", "workspace_id": workspace.pk}
    joined = await request(mallory, {"type": "join_room", "room": "lobby"})
    assert joined["data"]["workspace_id"] == other_workspace.pk

    message = await request(alice, {"type": "broadcast", "room": "lobby", "data": {"hi": 1}})
    assert message["type"] == "room.message"
    assert message["data"]["data"] == {"hi": 1}
    assert message["data"]["sender"] == {"user_id": user.pk, "username": "alice"}
    assert await mallory.receive_nothing(timeout=0.2)

    # Nor can mallory name alice's workspace.
    error = await request(
        mallory, {"type": "join_room", "room": "lobby", "workspace_id": workspace.pk}
    )
    assert error["data"]["code"] == "not_found"
    await alice.disconnect()
    await mallory.disconnect()


async def test_broadcast_reaches_members_of_a_shared_workspace(
    user, other_user, workspace, add_member
):
    await sync_to_async(add_member)(workspace, other_user, Role.VIEWER)
    alice, mallory = await connected(user), await connected(other_user)
    await request(alice, {"type": "join_room", "room": "lobby"})
    # mallory's own workspace is the default; she names alice's workspace to join its room.
    await request(mallory, {"type": "join_room", "room": "lobby", "workspace_id": workspace.pk})
    sent = await request(alice, {"type": "broadcast", "room": "lobby", "data": "hello"})
    assert await mallory.receive_json_from() == sent
    left = await request(
        mallory, {"type": "leave_room", "room": "lobby", "workspace_id": workspace.pk}
    )
    assert left["type"] == "room.left"
    await request(alice, {"type": "broadcast", "room": "lobby", "data": "again"})
    assert await mallory.receive_nothing(timeout=0.2)
    await alice.disconnect()
    await mallory.disconnect()


async def test_broadcast_needs_a_joined_room_and_a_small_payload(user, settings):
    settings.REALTIME_MAX_BROADCAST_BYTES = 50
    client = await connected(user)
    error = await request(client, {"type": "broadcast", "room": "lobby", "data": 1})
    assert error["data"]["code"] == "not_in_room"
    await request(client, {"type": "join_room", "room": "lobby"})
    error = await request(client, {"type": "broadcast", "room": "lobby", "data": "x" * 100})
    assert error["data"]["code"] == "message_too_large"
    error = await request(client, {"type": "broadcast", "room": "lobby"})
    assert error["data"]["code"] == "invalid_message"
    await client.disconnect()


# --- limits -------------------------------------------------------------------------------------
async def test_rooms_per_connection_are_capped(user, settings):
    settings.REALTIME_MAX_SUBSCRIPTIONS = 2
    client = await connected(user)
    for room in ("a", "b"):
        assert (await request(client, {"type": "join_room", "room": room}))["type"] == "room.joined"
    assert (await request(client, {"type": "join_room", "room": "a"}))["type"] == "room.joined"
    error = await request(client, {"type": "join_room", "room": "c"})
    assert error["data"]["code"] == "too_many_subscriptions"
    await request(client, {"type": "leave_room", "room": "a"})
    assert (await request(client, {"type": "join_room", "room": "c"}))["type"] == "room.joined"
    await client.disconnect()


async def test_message_rate_is_limited_then_a_flooding_client_is_closed(user, settings):
    # A bucket of 3 that practically never refills; 2 refused messages tolerated.
    settings.REALTIME_RATE_BURST = 3
    settings.REALTIME_RATE_PER_SECOND = 0.0001
    settings.REALTIME_FLOOD_TOLERANCE = 2
    client = await connected(user)
    for _ in range(3):
        assert (await request(client, {"type": "ping"}))["type"] == "pong"
    for _ in range(2):
        error = await request(client, {"type": "ping"})
        assert error["type"] == "error" and error["data"]["code"] == "rate_limited"
    error = await request(client, {"type": "ping"})
    assert error["data"]["code"] == "rate_limited"
    closed = await client.receive_output(timeout=5)
    assert closed == {
        "type": "websocket.close",
        "code": CLOSE_FLOODING,
        "reason": "message rate exceeded",
    }
    await client.send_input({"type": "websocket.disconnect", "code": CLOSE_FLOODING})
    await client.wait()


async def test_broadcast_events_are_json(user):
    client = await connected(user)
    await request(client, {"type": "join_room", "room": "r"})
    await client.send_to(text_data=json.dumps({"type": "broadcast", "room": "r", "data": [1]}))
    raw = await client.receive_from()
    assert json.loads(raw)["data"]["data"] == [1]
    await client.disconnect()


# --- joins racing with events -------------------------------------------------------------------
@pytest.fixture
def probe_topic():
    """A topic whose snapshot publishes to its own group while it is read: an event that
    happens between subscribing and reading the state. Odd ids are refused."""
    from config.errors import NotFound
    from realtime import topics

    def snapshot(actor, object_id):
        events.publish("probe.changed", {"probe_id": object_id}, groups=[f"probe.{object_id}"])
        if object_id % 2:
            raise NotFound()
        return {"probe_id": object_id}

    topics.register_topic(
        "probe", group=lambda pk: f"probe.{pk}", snapshot=snapshot, workspace_of=lambda pk: None
    )
    yield
    topics.unregister_topic("probe")


async def test_an_event_during_the_snapshot_comes_after_it(user, probe_topic):
    client = await connected(user)
    snapshot = await request(client, {"type": "join_probe", "probe_id": 2})
    assert snapshot["type"] == "probe.snapshot"
    changed = await client.receive_json_from()
    assert changed["type"] == "probe.changed" and changed["data"] == {"probe_id": 2}
    await client.disconnect()


async def test_an_event_during_a_refused_join_is_never_sent(user, probe_topic):
    client = await connected(user)
    error = await request(client, {"type": "join_probe", "probe_id": 3})
    assert error["data"]["code"] == "not_found"
    assert await client.receive_nothing(timeout=0.2)
    await client.disconnect()
