"""The "workflow" and "run" realtime topics: a join gets a snapshot, then the engine's events."""

import uuid

import pytest
from asgiref.sync import sync_to_async

from accounts.scoping import Actor
from realtime import events
from realtime.tests.conftest import connected, request
from workflows.engine import start_run
from workflows.engine.inline import InlineDispatcher
from workflows.tests.engine_support import APPROVAL, make_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _waiting_run(user, workspace):
    workflow = make_workflow(user, workspace, APPROVAL)
    dispatcher = InlineDispatcher()
    run = start_run(
        actor=Actor(user), workflow=workflow, inputs={"product": "Kite"}, dispatcher=dispatcher
    )
    dispatcher.drain()
    events.drain()  # what happened so far is sent before anyone joins
    return workflow, run


async def test_join_workflow_and_run_send_snapshots_of_runs_and_steps(user, workspace):
    workflow, run = await sync_to_async(_waiting_run)(user, workspace)
    client = await connected(user)

    snapshot = await request(client, {"type": "join_workflow", "workflow_id": workflow.pk})
    assert snapshot["type"] == "workflow.snapshot"
    data = snapshot["data"]
    assert data["workflow"]["id"] == workflow.pk
    [listed] = data["runs"]
    assert listed["id"] == run.pk and listed["status"] == "waiting"
    assert [(s["step_key"], s["status"]) for s in listed["steps"]] == [
        ("draft", "succeeded"),
        ("review", "waiting"),
        ("final", "pending"),
    ]

    snapshot = await request(client, {"type": "join_run", "run_id": run.pk})
    assert snapshot["type"] == "run.snapshot"
    assert snapshot["data"]["run"]["id"] == run.pk
    assert snapshot["data"]["run"]["steps"][1]["status"] == "waiting"
    await client.disconnect()


async def test_another_workspaces_workflow_or_run_is_not_found(user, workspace, other_user):
    workflow, run = await sync_to_async(_waiting_run)(user, workspace)
    client = await connected(other_user)
    for message in (
        {"type": "join_workflow", "workflow_id": workflow.pk},
        {"type": "join_run", "run_id": run.pk},
    ):
        error = await request(client, message)
        assert error["type"] == "error" and error["data"]["code"] == "not_found"
    await client.disconnect()


async def test_after_a_join_the_client_hears_the_runs_events(user, workspace, settings):
    from workflows.engine import approve_step

    # The engine publishes from its own thread: use the Redis layer, as in production (the
    # in-memory one is not meant to be shared between threads).
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [settings.REDIS_URL], "prefix": f"t{uuid.uuid4().hex[:8]}"},
        }
    }

    workflow, run = await sync_to_async(_waiting_run)(user, workspace)
    client = await connected(user)
    await request(client, {"type": "join_run", "run_id": run.pk})

    def approve():
        dispatcher = InlineDispatcher()
        approve_step(actor=Actor(user), run=run, key="review", dispatcher=dispatcher)
        dispatcher.drain()

    await sync_to_async(approve)()
    types = []
    while "run.succeeded" not in types:
        types.append((await client.receive_json_from(timeout=5))["type"])
    assert types[:2] == ["document.created", "step.succeeded"]
    assert "step.started" in types and "run.succeeded" in types
    await client.disconnect()
