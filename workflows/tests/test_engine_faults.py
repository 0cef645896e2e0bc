"""Faults and controls with a real worker: cancel, budgets, failure skipping dependants,
events on the channel layer."""

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from accounts.scoping import Actor
from realtime.groups import workspace_group
from workflows.engine import cancel_run, run_step, start_run
from workflows.models import Budget, Document, RunStatus, StepRun, StepStatus
from workflows.tests.engine_support import (
    APPROVAL,
    chain,
    documents_by_step,
    make_workflow,
    wait_for_run,
)

pytestmark = pytest.mark.integration

GENERATE_THEN_MORE = {
    "name": "Costly",
    "steps": [
        {"key": "intro", "kind": "transform", "prompt": "intro"},
        {"key": "write", "kind": "generate", "prompt": "Write about {{ steps.intro.output }}"},
        {"key": "polish", "kind": "transform", "prompt": "{{ steps.write.output }}!"},
        {"key": "side", "kind": "transform", "depends_on": ["intro"], "prompt": "side"},
    ],
}


@pytest.mark.django_db(transaction=True)
def test_cancel_revokes_queued_steps_and_a_late_message_does_nothing(user, workspace):
    workflow = make_workflow(user, workspace, chain(3))
    run = start_run(actor=Actor(user), workflow=workflow, inputs={})  # no worker yet
    first = StepRun.objects.get(run=run, key="s1")
    assert first.status == StepStatus.QUEUED and first.task_id

    run = cancel_run(actor=Actor(user), run=run)

    assert run.status == RunStatus.CANCELLED and run.finished_at
    assert set(StepRun.objects.filter(run=run).values_list("status", flat=True)) == {"cancelled"}
    # The message was revoked; even if it is delivered, its claim matches no row.
    assert run_step(first.pk) == "not-queued"
    assert not Document.objects.filter(run=run).exists()


def test_cancel_while_waiting_for_approval(celery_worker, user, workspace):
    workflow = make_workflow(user, workspace, APPROVAL)
    run = wait_for_run(
        start_run(actor=Actor(user), workflow=workflow, inputs={"product": "K"}),
        statuses={RunStatus.WAITING},
    )
    run = cancel_run(actor=Actor(user), run=run)
    statuses = dict(StepRun.objects.filter(run=run).values_list("key", "status"))
    assert statuses == {"draft": "succeeded", "review": "cancelled", "final": "cancelled"}
    assert set(documents_by_step(run)) == {"draft"}


def test_run_max_cost_stops_a_model_step_before_the_call_and_skips_dependants(
    celery_worker, user, workspace
):
    workflow = make_workflow(user, workspace, GENERATE_THEN_MORE)
    run = start_run(actor=Actor(user), workflow=workflow, inputs={}, max_cost="0")
    run = wait_for_run(run)

    assert run.status == RunStatus.FAILED and run.error_code == "budget_exceeded"
    steps = {s.key: s for s in StepRun.objects.filter(run=run)}
    assert steps["write"].status == StepStatus.FAILED
    assert steps["write"].error_code == "budget_exceeded" and steps["write"].attempts == 1
    assert steps["write"].model == "" and steps["write"].tokens_in == 0  # no model call
    assert steps["polish"].status == StepStatus.SKIPPED
    assert steps["intro"].status == StepStatus.SUCCEEDED


def test_workspace_monthly_budget_stops_model_steps(celery_worker, user, workspace):
    Budget.objects.create(workspace=workspace, monthly_token_limit=0)
    workflow = make_workflow(user, workspace, GENERATE_THEN_MORE)
    run = wait_for_run(start_run(actor=Actor(user), workflow=workflow, inputs={}))
    assert run.status == RunStatus.FAILED and run.error_code == "budget_exceeded"
    assert "monthly" in StepRun.objects.get(run=run, key="write").error


def _subscribe(group: str):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)

    async def read_all(expected_last: str, timeout: float = 20.0) -> list[dict]:
        events = []
        while True:
            message = await asyncio.wait_for(layer.receive(channel), timeout)
            events.extend(message["events"])
            if events[-1]["type"] == expected_last:
                return events

    return read_all


def test_every_state_change_is_published_to_run_workflow_and_workspace_groups(
    settings, user, workspace, transactional_db, request
):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [settings.REDIS_URL], "prefix": f"t{uuid.uuid4().hex[:8]}"},
        }
    }
    worker = request.getfixturevalue("celery_worker")  # after the layer is switched
    assert worker is not None
    workflow = make_workflow(user, workspace, chain(2))
    # The run's id is not known before it starts: listen on the workspace group, then check
    # the run group got the same stream.
    read_workspace = _subscribe(workspace_group(workspace.pk))
    run = start_run(actor=Actor(user), workflow=workflow, inputs={})
    events = async_to_sync(read_workspace)("run.succeeded")
    types = [(e["type"], e["data"].get("step")) for e in events]
    assert types == [
        ("run.queued", None),
        ("step.queued", "s1"),
        ("run.started", None),
        ("step.started", "s1"),
        ("document.created", "s1"),
        ("step.succeeded", "s1"),
        ("step.queued", "s2"),
        ("step.started", "s2"),
        ("document.created", "s2"),
        ("step.succeeded", "s2"),
        ("run.succeeded", None),
    ]
    assert all(e["data"]["run_id"] == run.pk for e in events)
    last = events[-1]
    assert set(last) == {"type", "id", "ts", "data"} and last["data"]["status"] == "succeeded"
    doc = Document.objects.get(run=run, step_key="s2")
    assert events[8]["data"]["document_id"] == doc.pk
