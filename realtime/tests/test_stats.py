"""Connection statistics in Redis, and GET /api/v3/ws/stats."""

import uuid

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from config.testing import assert_error
from realtime import stats
from realtime.tests.conftest import connected, request, token_for


@pytest.fixture(autouse=True)
def fresh_stats(settings):
    settings.REALTIME_STATS_PREFIX = f"docchain-test:ws-stats:{uuid.uuid4().hex[:8]}"
    settings.REALTIME_STATS_HEARTBEAT_SECONDS = 0.2


async def totals_become(baseline: dict | None = None, **wanted) -> dict:
    """Poll the stats (written by this process's heartbeat) until the totals, less `baseline`
    (what earlier tests left in this process), match."""
    import asyncio

    baseline = baseline or {}
    for _ in range(200):
        read = await sync_to_async(stats.read_stats)()
        total = read["total"]
        if all(total[key] - baseline.get(key, 0) == value for key, value in wanted.items()):
            return read
        await asyncio.sleep(0.05)
    raise AssertionError(f"stats never reached {wanted} over {baseline}: {total}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_connections_users_rooms_and_messages_are_counted(user, other_user):
    here = stats.process_stats()  # it may still count connections earlier tests left open
    base = {
        "connections": here.connections,
        "rooms": len(here.groups),
        "room_members": sum(here.groups.values()),
        "messages_in": here.messages_in,
        "messages_out": here.messages_out,
    }
    first = await connected(user)
    second, third = await connected(user), await connected(other_user)
    await request(first, {"type": "join_room", "room": "lobby"})
    await request(third, {"type": "join_room", "room": "lobby"})
    # Two rooms: "lobby" in alice's workspace and "lobby" in mallory's.
    read = await totals_become(base, connections=3, rooms=2, room_members=2)
    (process,) = [p for p in read["processes"] if p["id"] == stats.process_stats().process_id]
    assert process["connections"] == base["connections"] + 3
    assert read["total"]["messages_in"] >= base["messages_in"] + 2
    assert read["total"]["messages_out"] >= base["messages_out"] + 5

    await request(first, {"type": "leave_room", "room": "lobby"})
    await totals_become(base, connections=3, rooms=1, room_members=1)
    for client in (first, second, third):
        await client.disconnect()
    await totals_become(base, connections=0, rooms=0, room_members=0)


def write_process(**counts) -> stats.ProcessStats:
    """A process's picture as a web process would write it (tests have no second process)."""
    import redis.asyncio as aioredis
    from django.conf import settings

    process = stats.ProcessStats()
    process.connections = counts.get("connections", 0)
    process.users.update(counts.get("users", {}))
    process.groups.update(counts.get("groups", {}))

    async def write():
        client = aioredis.Redis.from_url(settings.REDIS_URL)
        await process.flush(client)
        await client.aclose()

    async_to_sync(write)()
    return process


def test_the_view_adds_up_processes_and_names_only_the_callers_rooms(
    api, user, workspace, other_workspace
):
    write_process(
        connections=2,
        users={user.pk: 2},
        groups={f"room.{workspace.pk}.lobby": 2, f"room.{other_workspace.pk}.lobby": 1},
    )
    write_process(connections=1, users={user.pk: 1}, groups={"workflow.5": 1})
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    body = api.get("/api/v3/ws/stats").json()
    assert body["total"] == {
        "processes": 2,
        "connections": 3,
        "users": 1,
        "rooms": 3,
        "room_members": 4,
        "messages_in": 0,
        "messages_out": 0,
    }
    assert body["rooms"] == [{"name": f"room.{workspace.pk}.lobby", "members": 2}]
    assert len(body["processes"]) == 2
    assert not {"host", "pid"} & set(body["processes"][0])  # staff only

    user.is_staff = True
    user.save()
    body = api.get("/api/v3/ws/stats").json()
    assert {"host", "pid"} <= set(body["processes"][0])
    names = [room["name"] for room in body["rooms"]]
    assert names == sorted(
        [f"room.{workspace.pk}.lobby", f"room.{other_workspace.pk}.lobby", "workflow.5"]
    )


def test_a_process_that_stopped_writing_is_not_counted(api, user, settings):
    settings.REALTIME_STATS_TTL_SECONDS = 1
    write_process(connections=4, users={user.pk: 4})
    api.force_authenticate(user)
    assert api.get("/api/v3/ws/stats").json()["total"]["connections"] == 4
    from config.testing import wait_until

    wait_until(
        lambda: api.get("/api/v3/ws/stats").json()["total"]["processes"] == 0,
        timeout=10,
        message="the silent process's keys to expire",
    )


@pytest.mark.django_db
def test_stats_need_authentication(api):
    assert_error(api.get("/api/v3/ws/stats"), 401)
