"""Workflow analytics, schedules (with their beat tasks) and workspace budgets."""

import json
from decimal import Decimal

import pytest
from django_celery_beat.models import PeriodicTask

from accounts.models import Role
from ai import services as ai_services
from config.testing import assert_error
from workflows.models import Budget, Schedule
from workflows.tests.factories import make_run, make_step_run, make_workflow

pytestmark = pytest.mark.django_db


def test_analytics(alice_api, user, workspace):
    workflow = make_workflow(user, workspace)
    for seconds in (1, 2, 3, 4, 10):
        run = make_run(workflow, seconds=seconds, tokens_in=10, tokens_out=20, cost=Decimal("0.5"))
        make_step_run(run, "summary", latency_ms=100.0 * seconds, tokens_in=10, tokens_out=20)
        make_step_run(run, "actions", latency_ms=50.0, cost=Decimal("0.1"))
    make_run(workflow, status="failed", seconds=5)
    make_run(workflow, status="cancelled")
    make_run(workflow, status="running")
    body = alice_api.get(f"/api/v3/workflows/{workflow.id}/analytics").json()
    assert body["runs"]["total"] == 8
    assert body["runs"]["by_status"]["succeeded"] == 5 and body["runs"]["by_status"]["queued"] == 0
    assert body["success_rate"] == round(5 / 6, 4)
    assert body["duration_seconds"]["sample"] == 6
    assert body["duration_seconds"]["p50"] == pytest.approx(3.5)
    assert body["duration_seconds"]["p95"] == pytest.approx(8.75)
    assert body["tokens"] == {"in": 50, "out": 100, "total": 150}
    assert Decimal(body["cost"]) == Decimal("2.5")
    assert [s["key"] for s in body["slowest_steps"]] == ["summary", "actions"]
    assert body["slowest_steps"][0]["avg_latency_ms"] == 400.0
    assert body["slowest_steps"][0]["max_latency_ms"] == 1000.0
    assert Decimal(body["slowest_steps"][1]["cost"]) == Decimal("0.5")

    recent = alice_api.get(f"/api/v3/workflows/{workflow.id}/analytics", {"days": 1}).json()
    assert recent["runs"]["total"] == 8
    bad = alice_api.get(f"/api/v3/workflows/{workflow.id}/analytics", {"days": "lots"})
    assert assert_error(bad, 400, "validation_error")["details"]["days"]


def test_analytics_of_a_workflow_with_no_runs(alice_api, user, workspace):
    body = alice_api.get(f"/api/v3/workflows/{make_workflow(user, workspace).id}/analytics").json()
    assert body["success_rate"] is None and body["duration_seconds"]["p50"] is None
    assert body["slowest_steps"] == [] and body["cost"] == "0"


def schedules_url(workflow) -> str:
    return f"/api/v3/workflows/{workflow.id}/schedules/"


def test_schedule_owns_a_periodic_task(alice_api, user, workspace):
    workflow = make_workflow(user, workspace)
    created = alice_api.post(
        schedules_url(workflow),
        {"name": "Weekdays", "cron": "30  9 * * mon-fri", "inputs": {"notes": "standup"}},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["cron"] == "30 9 * * mon-fri" and body["enabled"] is True
    schedule = Schedule.objects.get(pk=body["id"])
    task = schedule.periodic_task
    assert task.task == "workflows.run_schedule" and task.enabled
    assert json.loads(task.kwargs) == {"schedule_id": schedule.id}
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == (
        "30",
        "9",
        "mon-fri",
    )

    url = f"{schedules_url(workflow)}{schedule.id}/"
    changed = alice_api.patch(
        url, {"enabled": False, "cron": "0 18 * * *", "timezone": "Europe/Madrid"}, "json"
    )
    assert changed.status_code == 200, changed.content
    task.refresh_from_db()
    assert not task.enabled and task.crontab.hour == "18"
    assert str(task.crontab.timezone) == "Europe/Madrid"
    assert alice_api.get(schedules_url(workflow)).json()["count"] == 1

    assert alice_api.delete(url).status_code == 204
    assert not Schedule.objects.exists() and not PeriodicTask.objects.filter(pk=task.pk).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "cron": "61 * * * *"}, "cron"),
        ({"name": "x", "cron": "* * *"}, "cron"),
        ({"name": "x", "cron": "0 9 * * someday"}, "cron"),
        ({"name": "x", "cron": "0 9 * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "x", "cron": "0 9 * * *", "inputs": {"nope": 1}}, "inputs"),
    ],
)
def test_bad_schedules(alice_api, user, workspace, body, field):
    workflow = make_workflow(user, workspace)
    inputs = body.get("inputs", {"notes": "n"})
    response = alice_api.post(schedules_url(workflow), {**body, "inputs": inputs}, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"], response.json()
    assert not PeriodicTask.objects.filter(task="workflows.run_schedule").exists()


def test_deleting_a_workflow_removes_its_beat_tasks(alice_api, user, workspace):
    workflow = make_workflow(user, workspace)
    alice_api.post(
        schedules_url(workflow),
        {"name": "Daily", "cron": "0 9 * * *", "inputs": {"notes": "n"}},
        format="json",
    )
    assert PeriodicTask.objects.filter(task="workflows.run_schedule").count() == 1
    assert alice_api.delete(f"/api/v3/workflows/{workflow.id}/").status_code == 204
    assert not PeriodicTask.objects.filter(task="workflows.run_schedule").exists()


def test_budget(alice_api, client_for, user, other_user, workspace, add_member):
    url = f"/api/v3/workspaces/{workspace.id}/budget"
    empty = alice_api.get(url).json()
    assert empty["monthly_cost_limit"] is None and empty["month_to_date"]["tokens"] == 0

    # Month to date is the AI gateway's usage records (what the engine enforces against).
    call = ai_services.complete(workspace=workspace, prompt="Write about owls.")
    saved = alice_api.put(url, {"monthly_cost_limit": "20", "monthly_token_limit": 5000}, "json")
    assert saved.status_code == 200, saved.content
    assert Decimal(saved.json()["monthly_cost_limit"]) == 20
    used = saved.json()["month_to_date"]
    assert used["tokens"] == call.total_tokens > 0 and Decimal(used["cost"]) == 0

    patched = alice_api.patch(url, {"monthly_token_limit": None}, format="json").json()
    assert patched["monthly_token_limit"] is None and Decimal(patched["monthly_cost_limit"]) == 20
    # PUT is the whole budget: a limit left out is cleared.
    alice_api.put(url, {"monthly_token_limit": 10}, format="json")
    budget = Budget.objects.get(workspace=workspace)
    assert budget.monthly_cost_limit is None and budget.monthly_token_limit == 10

    bad = alice_api.put(url, {"monthly_cost_limit": "-1"}, format="json")
    assert_error(bad, 400, "validation_error")

    add_member(workspace, other_user, Role.EDITOR)
    editor = client_for(other_user)
    assert editor.get(url).status_code == 200
    assert_error(editor.put(url, {"monthly_cost_limit": "1"}, format="json"), 403)


def test_budget_of_another_workspace_is_404(alice_api, other_workspace):
    url = f"/api/v3/workspaces/{other_workspace.id}/budget"
    assert_error(alice_api.get(url), 404, "not_found")
    assert_error(alice_api.put(url, {"monthly_cost_limit": "1"}, format="json"), 404)
