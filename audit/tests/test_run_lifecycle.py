"""A run's lifecycle rows: written in the engine's own transactions, one per run event."""

import pytest
from django.db import transaction

from accounts.scoping import Actor
from audit import chain
from audit.models import AuditLogEntry
from workflows.engine import runs
from workflows.models import Run
from workflows.tests.engine_support import (
    APPROVAL,
    DIAMOND,
    make_workflow,
    wait_for_run,
)


def lifecycle(run_id) -> list[tuple[str, int | None]]:
    rows = AuditLogEntry.objects.filter(
        content_type__app_label="workflows", content_type__model="run", object_pk=str(run_id)
    ).order_by("seq")
    return [(row.additional_data["event"], row.actor_id) for row in rows]


def test_start_approve_and_finish_leave_lifecycle_rows(alice_api, user, workspace, celery_worker):
    # Through the API, so a real worker runs the steps (the API sends them through Celery).
    workflow = make_workflow(user, workspace, APPROVAL)
    started = alice_api.post(
        f"/api/v3/workflows/{workflow.pk}/runs/", {"inputs": {"product": "Kite"}}
    )
    assert started.status_code == 201, started.content
    run_id = started.json()["id"]
    run = Run(pk=run_id)
    wait_for_run(run, statuses={"waiting"}, timeout=60)
    rejected = alice_api.post(f"/api/v3/runs/{run_id}/steps/review/reject", {"comment": "no"})
    assert rejected.json()["status"] == "failed"
    assert alice_api.post(f"/api/v3/runs/{run_id}/retry").status_code == 200
    wait_for_run(run, statuses={"waiting"}, timeout=60)
    approved = alice_api.post(f"/api/v3/runs/{run_id}/steps/review/approve", {"comment": "ok"})
    assert approved.status_code == 200
    wait_for_run(run, timeout=60)
    assert alice_api.get(f"/api/v3/runs/{run_id}/").json()["status"] == "succeeded"
    rerun = alice_api.post(f"/api/v3/runs/{run_id}/rerun", {"from_step": "final"})
    assert rerun.status_code == 201
    wait_for_run(Run(pk=rerun.json()["id"]), timeout=60)
    assert lifecycle(run_id) == [
        ("run.started", user.pk),
        ("run.rejected", user.pk),
        ("run.failed", user.pk),
        ("run.retried", user.pk),
        ("run.approved", user.pk),
        ("run.succeeded", None),  # the worker finished it: the system
    ]
    assert lifecycle(rerun.json()["id"]) == [("run.rerun", user.pk), ("run.succeeded", None)]
    approval = AuditLogEntry.objects.get(additional_data__event="run.approved")
    assert approval.additional_data["step"] == "review"
    assert approval.additional_data["comment"] == "ok"
    assert approval.workspace_id == workspace.pk
    assert chain.verify(workspace_id=workspace.pk)[1] == []


@pytest.mark.django_db
def test_cancel_is_a_row_too(user, workspace):
    actor = Actor(user)
    workflow = make_workflow(user, workspace, DIAMOND)
    run = runs.start_run(workflow=workflow, inputs={"topic": "x"}, actor=actor)
    runs.cancel_run(actor=actor, run=run)
    assert lifecycle(run.pk) == [("run.started", user.pk), ("run.cancelled", user.pk)]


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_audit_row(user, workspace):
    workflow = make_workflow(user, workspace, DIAMOND)
    before = AuditLogEntry.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        runs.start_run(workflow=workflow, inputs={"topic": "x"}, actor=Actor(user))
        raise RuntimeError("the caller's transaction fails after the start")
    assert not Run.objects.exists()
    assert AuditLogEntry.objects.count() == before
