"""GET /api/v3/advanced/analytics/summary: figures that match the runs the test made, on
both databases (percentile_cont on PostgreSQL, the window-function fallback on SQLite)."""

from datetime import timedelta

import pytest

from accounts.models import Role
from analytics.tests.factories import make_run, make_workflow
from realtime.tests.conftest import token_for
from tasks.models import BackgroundTask
from workflows.models import RunStatus, StepStatus

pytestmark = pytest.mark.django_db
URL = "/api/v3/advanced/analytics/summary"


@pytest.fixture
def runs(user, workspace):
    """Four finished runs of 10, 20, 30 and 40 s (three succeeded), one queued; an old run
    outside the day; steps on two models."""
    report = make_workflow(workspace, "Report")
    brief = make_workflow(workspace, "Brief")
    made = []
    for seconds, status in (
        (10, "succeeded"),
        (20, "succeeded"),
        (30, "succeeded"),
        (40, "failed"),
    ):
        made.append(
            make_run(
                report,
                status=status,
                seconds=seconds,
                user=user,
                tokens=(100, 50),
                cost="0.25",
                steps=[
                    {"key": "draft", "model": "openai/gpt-4o-mini", "latency_ms": seconds * 100,
                     "tokens_in": 100, "tokens_out": 50, "cost": "0.25"},
                    {"key": "tidy", "kind": "transform", "latency_ms": 1.0},
                ],
            )
        )  # fmt: skip
    made.append(make_run(brief, status=RunStatus.QUEUED, seconds=None, user=user))
    make_run(brief, ago=timedelta(days=3), tokens=(999, 999), cost="9")  # not in the day
    return made


def test_the_briefs_curl_example_answers_with_the_runs_figures(api, user, runs):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    response = api.get(f"{URL}?time_range=day")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["window"]["time_range"] == "day"
    assert body["runs"]["total"] == 5
    assert body["runs"]["by_status"]["succeeded"] == 3
    assert body["runs"]["by_status"]["failed"] == 1
    assert body["runs"]["by_status"]["queued"] == 1
    assert body["runs"]["success_rate"] == 0.75
    durations = body["runs"]["duration_seconds"]
    # percentile_cont over 10, 20, 30, 40: linear between closest ranks.
    assert durations["p50"] == pytest.approx(25.0, abs=0.01)
    assert durations["p95"] == pytest.approx(38.5, abs=0.01)
    assert durations["p99"] == pytest.approx(39.7, abs=0.01)
    assert durations["mean"] == pytest.approx(25.0, abs=0.01)
    assert body["tokens"] == {"in": 400, "out": 200, "total": 600}
    assert body["cost"] == pytest.approx(1.0)
    assert body["active_users"] == 1
    steps = body["steps"]
    assert steps["total"] == 8
    assert steps["by_status"][StepStatus.SUCCEEDED] == 8
    assert steps["latency_ms"]["p50"] == pytest.approx(500.5, abs=0.01)  # between 1.0 and 1000

    by_workflow = {row["name"]: row for row in body["by_workflow"]}
    assert by_workflow["Report"]["runs"] == 4
    assert by_workflow["Report"]["success_rate"] == 0.75
    assert by_workflow["Report"]["duration_seconds"]["p50"] == pytest.approx(25.0, abs=0.01)
    assert by_workflow["Brief"]["runs"] == 1
    assert by_workflow["Brief"]["duration_seconds"]["p50"] is None

    [model] = body["by_model"]
    assert model["model"] == "openai/gpt-4o-mini"
    assert model["steps"] == 4
    assert model["latency_ms"]["p50"] == pytest.approx(2500.0, abs=0.01)
    assert model["cost"] == pytest.approx(1.0)

    [row] = body["by_user"]
    assert (row["username"], row["runs"], row["succeeded"], row["failed"]) == ("alice", 5, 3, 1)
    assert body["notifications"]["total"] == 0 and body["notifications"]["by_channel"] == {}


def test_a_week_includes_the_older_run(alice_api, runs):
    body = alice_api.get(f"{URL}?time_range=week").json()
    assert body["runs"]["total"] == 6
    assert body["tokens"]["in"] == 400 + 999


def test_a_workflow_and_a_since_until_window(alice_api, runs):
    workflow_id = runs[0].workflow_id
    body = alice_api.get(f"{URL}?workflow={workflow_id}").json()
    assert body["runs"]["total"] == 4
    since = (runs[1].created_at - timedelta(seconds=1)).isoformat()
    until = (runs[2].created_at + timedelta(seconds=1)).isoformat()
    response = alice_api.get(URL, {"since": since, "until": until})
    assert response.status_code == 200
    assert response.json()["window"]["time_range"] is None


def test_other_workspaces_are_not_counted_and_are_404(
    client_for, alice_api, runs, other_user, other_workspace
):
    make_run(make_workflow(other_workspace), user=other_user)
    assert alice_api.get(URL).json()["runs"]["total"] == 5
    assert client_for(other_user).get(URL).json()["runs"]["total"] == 1
    response = alice_api.get(f"{URL}?workspace={other_workspace.pk}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    other_flow = make_workflow(other_workspace)
    assert alice_api.get(f"{URL}?workflow={other_flow.pk}").status_code == 404


def test_a_member_sees_the_shared_workspace(client_for, runs, workspace, other_user, add_member):
    add_member(workspace, other_user, Role.VIEWER)
    body = client_for(other_user).get(f"{URL}?workspace={workspace.pk}").json()
    assert body["runs"]["total"] == 5


def test_background_tasks_by_status_and_type(alice_api, user, workspace, runs):
    for status in ("succeeded", "succeeded", "failed"):
        BackgroundTask.objects.create(
            workspace=workspace, task_type="demo.echo", status=status, submitted_by=user, timeout=60
        )
    tasks = alice_api.get(URL).json()["background_tasks"]
    assert tasks["total"] == 3
    assert tasks["by_status"] == {"failed": 1, "succeeded": 2}
    assert tasks["by_type"]["demo.echo"] == {"total": 3, "succeeded": 2, "failed": 1}


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("time_range=year", 400, "invalid_query"),
        ("since=yesterday", 400, "invalid_query"),
        ("since=2026-01-02&until=2026-01-01", 400, "invalid_query"),
        ("since=2020-01-01&until=2026-01-01", 400, "invalid_query"),
        ("workspace=abc", 400, "invalid_query"),
        ("since=2026-13-45", 400, "invalid_query"),
        ("since=2026-02-30T10:00:00", 400, "invalid_query"),
        ("until=0001-01-01T00:00:00Z", 400, "invalid_query"),
        ("since=0001-01-05&until=0001-06-01", 400, "invalid_query"),
        ("until=9999-12-31T23:59:59Z&time_range=month", 400, "invalid_query"),
        ("workspace=999999", 404, "not_found"),
        ("workspace=-1", 404, "not_found"),
        ("workflow=99999999999999999999999", 404, "not_found"),
    ],
)
def test_bad_input_is_a_clear_4xx(alice_api, query, status, code):
    response = alice_api.get(f"{URL}?{query}")
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_anonymous_callers_are_refused(api):
    response = api.get(URL)
    assert response.status_code == 401
    assert "error" in response.json()
