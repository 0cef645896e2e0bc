"""The runs API: start, read, act; roles, scoping and state conflicts in the error shape."""

import pytest

from accounts.models import Role
from config.testing import assert_error
from workflows.models import Run, RunStatus, StepRun, StepStatus
from workflows.tests.engine_support import APPROVAL, DIAMOND, make_workflow, wait_for_run


@pytest.fixture
def diamond(user, workspace):
    return make_workflow(user, workspace, DIAMOND)


@pytest.mark.django_db
def test_start_returns_the_queued_run_with_its_steps(alice_api, diamond):
    response = alice_api.post(
        f"/api/v3/workflows/{diamond.pk}/runs/",
        {"inputs": {"topic": "tea"}, "priority": "high", "max_cost": "0.5"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "queued" and body["priority"] == "high" and body["trigger"] == "api"
    assert body["inputs"] == {"topic": "tea"} and body["max_cost"] == "0.500000"
    steps = {s["key"]: s for s in body["steps"]}
    assert {k: s["status"] for k, s in steps.items()} == {
        "a": "queued",
        "b": "pending",
        "c": "pending",
        "d": "pending",
    }
    assert steps["d"]["depends_on"] == ["b", "c"]
    assert body["totals"] == {
        "tokens_in": 0,
        "tokens_out": 0,
        "tokens": 0,
        "cost": "0.000000",
        "duration_seconds": None,
    }
    run = Run.objects.get(pk=body["id"])
    assert run.definition["name"] == "Diamond" and run.workflow_version == 1


@pytest.mark.django_db
def test_the_briefs_execute_path_does_the_same(alice_api, diamond):
    response = alice_api.post(
        "/api/v3/advanced/workflows/execute",
        {"workflow_id": diamond.pk, "parameters": {"topic": "tea"}},
    )
    assert response.status_code == 201, response.content
    assert response.json()["workflow"] == diamond.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"inputs": {}}, "invalid_inputs"),
        ({"inputs": {"topic": 3}}, "invalid_inputs"),
        ({"inputs": {"topic": "x", "other": 1}}, "invalid_inputs"),
        ({"inputs": {"topic": "x"}, "priority": "urgent"}, "validation_error"),
        ({"inputs": {"topic": "x"}, "max_cost": "-1"}, "validation_error"),
        ({"inputs": "topic"}, "validation_error"),
    ],
)
def test_bad_start_requests_are_400(alice_api, diamond, body, code):
    response = alice_api.post(f"/api/v3/workflows/{diamond.pk}/runs/", body)
    error = assert_error(response, 400)
    if code != "validation_error":
        assert error["code"] == code
    assert not Run.objects.exists()


@pytest.mark.django_db
def test_viewers_cannot_run_and_other_workspaces_are_404(
    client_for, other_user, diamond, workspace, add_member
):
    mallory = client_for(other_user)
    url = f"/api/v3/workflows/{diamond.pk}/runs/"
    assert_error(mallory.post(url, {"inputs": {"topic": "x"}}), 404, "not_found")
    assert_error(
        mallory.post(
            "/api/v3/advanced/workflows/execute",
            {"workflow_id": diamond.pk, "parameters": {"topic": "x"}},
        ),
        404,
    )
    add_member(workspace, other_user, Role.VIEWER)
    assert_error(mallory.post(url, {"inputs": {"topic": "x"}}), 403, "insufficient_role")
    assert not Run.objects.exists()


@pytest.mark.django_db
def test_list_filters_and_scopes_runs(alice_api, client_for, other_user, diamond, user, workspace):
    from accounts.scoping import Actor
    from workflows.engine import start_run

    first = start_run(actor=Actor(user), workflow=diamond, inputs={"topic": "a"})
    second = start_run(
        actor=Actor(user), workflow=diamond, inputs={"topic": "b"}, trigger="schedule"
    )
    Run.objects.filter(pk=second.pk).update(status=RunStatus.FAILED)
    other = make_workflow(user, workspace, {**DIAMOND, "name": "Other"})
    start_run(actor=Actor(user), workflow=other, inputs={"topic": "c"})

    def ids(query=""):
        response = alice_api.get(f"/api/v3/runs/{query}")
        assert response.status_code == 200
        return {run["id"] for run in response.json()["results"]}

    assert len(ids()) == 3
    assert ids(f"?workflow={diamond.pk}") == {first.pk, second.pk}
    assert ids("?status=failed") == {second.pk}
    assert ids("?trigger=schedule") == {second.pk}
    assert_error(alice_api.get("/api/v3/runs/?status=bogus"), 400)

    detail = alice_api.get(f"/api/v3/runs/{first.pk}/").json()
    assert [s["key"] for s in detail["steps"]] == ["a", "b", "c", "d"]
    mallory = client_for(other_user)
    assert mallory.get("/api/v3/runs/").json()["count"] == 0
    assert_error(mallory.get(f"/api/v3/runs/{first.pk}/"), 404)
    assert_error(mallory.post(f"/api/v3/runs/{first.pk}/cancel"), 404)


@pytest.mark.django_db
def test_state_conflicts_are_409(alice_api, diamond, user):
    from accounts.scoping import Actor
    from workflows.engine import start_run

    run = start_run(actor=Actor(user), workflow=diamond, inputs={"topic": "a"})
    assert_error(alice_api.post(f"/api/v3/runs/{run.pk}/retry"), 409, "invalid_state")
    assert_error(alice_api.post(f"/api/v3/runs/{run.pk}/steps/a/approve"), 409, "invalid_state")
    assert_error(alice_api.post(f"/api/v3/runs/{run.pk}/steps/zz/approve"), 404)
    assert alice_api.post(f"/api/v3/runs/{run.pk}/cancel").json()["status"] == "cancelled"
    assert_error(alice_api.post(f"/api/v3/runs/{run.pk}/cancel"), 409, "invalid_state")
    assert_error(
        alice_api.post(f"/api/v3/runs/{run.pk}/rerun", {"from_step": "nope"}), 400, "unknown_step"
    )
    # Nothing upstream of d has a result in a cancelled run.
    assert_error(alice_api.post(f"/api/v3/runs/{run.pk}/rerun", {"from_step": "d"}), 409)


def test_approve_reject_retry_and_rerun_through_the_api(
    celery_worker, alice_api, client_for, other_user, user, workspace, add_member
):
    """HTTP in, the worker runs the steps: the same path as in production."""
    workflow = make_workflow(user, workspace, APPROVAL)
    body = alice_api.post(
        f"/api/v3/workflows/{workflow.pk}/runs/", {"inputs": {"product": "Kite"}}
    ).json()
    run_id = body["id"]
    wait_for_run(Run(pk=run_id), statuses={RunStatus.WAITING})
    detail = alice_api.get(f"/api/v3/runs/{run_id}/").json()
    assert detail["status"] == "waiting"
    assert [s["status"] for s in detail["steps"]] == ["succeeded", "waiting", "pending"]

    viewer = client_for(other_user)
    add_member(workspace, other_user, Role.VIEWER)
    assert_error(viewer.post(f"/api/v3/runs/{run_id}/steps/review/approve"), 403)

    response = alice_api.post(f"/api/v3/runs/{run_id}/steps/review/reject", {"comment": "Too long"})
    assert response.status_code == 200
    rejected = response.json()
    assert rejected["status"] == "failed" and rejected["error_code"] == "rejected"
    assert "Too long" in rejected["error"]
    steps = {s["key"]: s for s in rejected["steps"]}
    assert steps["review"]["status"] == "failed" and steps["review"]["decided_by"] == "alice"
    assert steps["final"]["status"] == "skipped"
    draft_document = steps["draft"]["document"]

    assert alice_api.post(f"/api/v3/runs/{run_id}/retry").status_code == 200
    wait_for_run(Run(pk=run_id), statuses={RunStatus.WAITING})
    retried = alice_api.get(f"/api/v3/runs/{run_id}/").json()
    steps = {s["key"]: s for s in retried["steps"]}
    assert retried["status"] == "waiting" and retried["error"] == ""
    assert steps["draft"]["document"] == draft_document  # kept, not made again
    assert steps["review"]["status"] == "waiting" and steps["final"]["status"] == "pending"

    response = alice_api.post(f"/api/v3/runs/{run_id}/steps/review/approve", {"comment": "ok"})
    assert response.status_code == 200
    wait_for_run(Run(pk=run_id))
    approved = alice_api.get(f"/api/v3/runs/{run_id}/").json()
    assert approved["status"] == "succeeded"
    final = StepRun.objects.get(run_id=run_id, key="final")
    assert final.document.content == "Final: # Draft\nLaunch Kite"
    assert_error(alice_api.post(f"/api/v3/runs/{run_id}/retry"), 409)

    response = alice_api.post(f"/api/v3/runs/{run_id}/rerun", {"from_step": "final"})
    assert response.status_code == 201
    rerun = wait_for_run(Run.objects.get(pk=response.json()["id"]))
    assert rerun.source_run_id == run_id and rerun.status == RunStatus.SUCCEEDED
    reused = dict(StepRun.objects.filter(run=rerun).values_list("key", "document_id"))
    original = dict(StepRun.objects.filter(run_id=run_id).values_list("key", "document_id"))
    assert reused["draft"] == original["draft"] and reused["review"] == original["review"]
    assert reused["final"] != original["final"]
    assert StepRun.objects.get(run=rerun, key="final").status == StepStatus.SUCCEEDED
