"""End to end: real uvicorn servers, real WebSocket clients, the Redis channel layer, a real
Celery worker, two web processes."""

import json
import signal
import urllib.request
import uuid

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from accounts import services
from accounts.models import Role
from accounts.scoping import Actor
from config.testing import start_worker_process, wait_until
from realtime import events, groups
from realtime.tasks import publish_test_event
from realtime.tests.conftest import token_for
from realtime.tests.servers import (
    LIVE_STEPS,
    asgi_server,
    live_workflow,
    redis_channel_layers,
    start_run_over_http,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_layer(settings):
    """This test process publishes through Redis too, like every process but unit tests."""
    settings.CHANNEL_LAYERS = redis_channel_layers()


@pytest.fixture
def stats_env():
    """Fresh stats keys per test, a quick heartbeat and a short life for a dead process."""
    return {
        "REALTIME_STATS_PREFIX": f"docchain-test:ws-stats:{uuid.uuid4().hex[:8]}",
        "REALTIME_STATS_HEARTBEAT_SECONDS": "0.5",
        "REALTIME_STATS_TTL_SECONDS": "3",
    }


def ws(base: str, user=None, query: str = "", **kwargs):
    if user is not None:
        query = f"{query}&token={token_for(user)}" if query else f"token={token_for(user)}"
    return connect(f"ws://{base}/api/v3/ws/ws?{query}", open_timeout=10, **kwargs)


def recv(socket, timeout: float = 10) -> dict:
    return json.loads(socket.recv(timeout=timeout))


def recv_until(socket, event_type: str, timeout: float = 10) -> dict:
    while True:
        event = recv(socket, timeout)
        if event["type"] == event_type:
            return event


def get_stats(base: str, user) -> dict:
    request = urllib.request.Request(  # noqa: S310 - our own local server
        f"http://{base}/api/v3/ws/stats", headers={"Authorization": f"Bearer {token_for(user)}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return json.loads(response.read())


def test_the_briefs_client_works_with_a_token_and_nothing_else(tmp_path, user, workspace):
    with asgi_server(log_path=tmp_path / "web.log") as (base, _):
        # The brief's URL names a user; without a token that names nobody.
        for query in ("connection_id=test123&user_id=1", "token=forged.jwt.value"):
            with pytest.raises(InvalidStatus) as refused:
                ws(base, query=query).close()
            assert refused.value.response.status_code == 403
        with ws(base, user, query="connection_id=test123&user_id=999") as socket:
            ready = recv(socket)
            assert ready["type"] == "connection.ready"
            assert ready["data"]["user_id"] == user.pk
            socket.send(json.dumps({"type": "ping"}))
            assert recv(socket)["type"] == "pong"
            socket.send("{oops")
            assert recv(socket)["data"]["code"] == "malformed_json"
            socket.send(json.dumps({"type": "join_workspace", "workspace_id": workspace.pk}))
            snapshot = recv(socket)
            assert snapshot["type"] == "workspace.snapshot"
            assert snapshot["data"]["members"][0]["username"] == "alice"


def test_an_event_published_by_a_celery_worker_reaches_the_client(
    tmp_path, user, workspace, redis_layer
):
    worker = start_worker_process(log_path=tmp_path / "worker.log", CHANNEL_LAYER="redis")
    try:
        with asgi_server(log_path=tmp_path / "web.log") as (base, _), ws(base, user) as socket:
            assert recv(socket)["type"] == "connection.ready"
            publish_test_event.delay(user.pk, "from the worker")
            event = recv_until(socket, "diagnostic.test", timeout=60)
            assert event["data"] == {"text": "from the worker"}
            assert set(event) == {"type", "id", "ts", "data"}

            # And a topic's events, published from this (another) process.
            socket.send(json.dumps({"type": "join_workspace", "workspace_id": workspace.pk}))
            assert recv(socket)["type"] == "workspace.snapshot"
            sent = events.publish(
                "step.succeeded",
                {"run_id": 1, "step_key": "outline", "status": "succeeded"},
                groups=[groups.workspace_group(workspace.pk)],
            )
            assert recv(socket) == sent
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)


def test_a_run_started_over_http_streams_its_steps_to_a_joined_client(
    tmp_path, user, workspace, redis_layer
):
    workflow = live_workflow(user, workspace)
    worker = start_worker_process(log_path=tmp_path / "worker.log", CHANNEL_LAYER="redis")
    try:
        with asgi_server(log_path=tmp_path / "web.log") as (base, _), ws(base, user) as socket:
            assert recv(socket)["type"] == "connection.ready"
            socket.send(json.dumps({"type": "join_workflow", "workflow_id": workflow.pk}))
            snapshot = recv(socket)
            assert snapshot["type"] == "workflow.snapshot"
            assert snapshot["data"]["workflow"]["id"] == workflow.pk
            assert snapshot["data"]["runs"] == []

            run = start_run_over_http(base, user, workflow.pk, {"topic": uuid.uuid4().hex})
            heard = []
            while not heard or heard[-1]["type"] != "run.succeeded":
                event = recv(socket, timeout=60)  # the first event waits for the worker
                assert event["type"] not in ("run.failed", "step.failed", "error"), event
                heard.append(event)

            step_events = [e for e in heard if e["type"].startswith("step.")]
            assert {e["data"]["run_id"] for e in step_events} == {run["id"]}
            succeeded = [
                e["data"]["step_key"] for e in step_events if e["type"] == "step.succeeded"
            ]
            assert sorted(succeeded) == sorted(LIVE_STEPS)
            # A chain: each step is announced as started before it succeeds, in order.
            started = [e["data"]["step_key"] for e in step_events if e["type"] == "step.started"]
            assert started == succeeded == ["draft", "tidy", "pitch"]
            assert heard[-1]["data"]["run_id"] == run["id"]
            assert heard[-1]["data"]["workflow_id"] == workflow.pk

            # Joining the finished run: a snapshot of it from the database.
            socket.send(json.dumps({"type": "join_run", "run_id": run["id"]}))
            snapshot = recv(socket)
            assert snapshot["type"] == "run.snapshot"
            assert snapshot["data"]["run"]["status"] == "succeeded"
            steps = {s["step_key"]: s["status"] for s in snapshot["data"]["run"]["steps"]}
            assert steps == dict.fromkeys(LIVE_STEPS, "succeeded")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)


def test_two_web_processes_share_rooms_and_count_each_other(
    tmp_path, user, other_user, workspace, add_member, stats_env
):
    add_member(workspace, other_user, Role.EDITOR)
    with (
        asgi_server(log_path=tmp_path / "a.log", **stats_env) as (a, _),
        asgi_server(log_path=tmp_path / "b.log", **stats_env) as (b, process_b),
        ws(a, user) as alice,
    ):
        assert recv(alice)["type"] == "connection.ready"
        mallory = ws(b, other_user)
        assert recv(mallory)["type"] == "connection.ready"
        join = {"type": "join_room", "room": "lobby", "workspace_id": workspace.pk}
        for socket in (alice, mallory):
            socket.send(json.dumps(join))
            assert recv(socket)["type"] == "room.joined"

        # A broadcast on process A reaches the client on process B.
        alice.send(json.dumps({**join, "type": "broadcast", "data": {"text": "hi"}}))
        heard = recv_until(mallory, "room.message")
        assert heard["data"]["data"] == {"text": "hi"}
        assert heard["data"]["sender"]["username"] == "alice"

        def both_counted(base):
            stats = get_stats(base, user)
            total = stats["total"]
            wanted = {"processes": 2, "connections": 2, "users": 2, "rooms": 1, "room_members": 2}
            # Message counts are written with the next heartbeat.
            heard = total["messages_in"] >= 3 and total["messages_out"] >= 6
            if heard and all(total[k] == v for k, v in wanted.items()):
                return stats
            return None

        for base in (a, b):
            stats = wait_until(lambda base=base: both_counted(base), message=f"stats on {base}")
            assert sorted(p["connections"] for p in stats["processes"]) == [1, 1]
            assert stats["rooms"] == [
                {"name": groups.room_group(workspace.pk, "lobby"), "members": 2}
            ]

        # Process B dies without a word: it stops being counted once its keys expire.
        process_b.send_signal(signal.SIGKILL)
        process_b.wait()

        def only_a_counted():
            total = get_stats(a, user)["total"]
            return (total["processes"], total["connections"], total["users"]) == (1, 1, 1)

        wait_until(only_a_counted, timeout=30, message="the dead process to leave the stats")
        mallory.close()


def test_access_removed_over_http_ends_on_the_live_server_at_once(
    tmp_path, user, other_user, workspace, add_member, alice_api, redis_layer
):
    """The API process commits; its publisher tells the web process through Redis."""
    add_member(workspace, other_user, Role.EDITOR)
    _, secret = services.create_api_key(
        actor=Actor(user), workspace=workspace, name="live", scopes=["read"]
    )
    join = {"type": "join_room", "room": "lobby", "workspace_id": workspace.pk}
    with (
        asgi_server(log_path=tmp_path / "web.log") as (base, _),
        ws(base, user) as alice,
        ws(base, other_user) as mallory,
        ws(base, query=f"api_key={secret}") as keyed,
    ):
        for socket in (alice, mallory, keyed):
            assert recv(socket)["type"] == "connection.ready"
            socket.send(json.dumps(join))
            assert recv(socket)["type"] == "room.joined"

        removed = alice_api.delete(f"/api/v3/workspaces/{workspace.pk}/members/{other_user.pk}/")
        assert removed.status_code == 204
        left = recv(mallory)
        assert left["type"] == "room.left" and left["data"]["reason"] == "access_revoked"
        assert recv(mallory)["data"] == {"workspace_id": workspace.pk}
        alice.send(json.dumps({**join, "type": "broadcast", "data": "after"}))
        assert recv_until(keyed, "room.message")["data"]["data"] == "after"
        with pytest.raises(TimeoutError):
            mallory.recv(timeout=0.5)

        prefix = secret.partition(".")[0]
        assert alice_api.delete(f"/api/v3/security/api-keys/{prefix}/").status_code == 204
        assert recv(keyed)["data"]["code"] == "api_key_revoked"
        with pytest.raises(ConnectionClosed) as closed:
            keyed.recv(timeout=10)
        assert closed.value.rcvd.code == 4401


def test_stats_need_authentication(tmp_path):
    with asgi_server(log_path=tmp_path / "web.log") as (base, _):
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"http://{base}/api/v3/ws/stats", timeout=5)  # noqa: S310
        assert failed.value.code == 401
