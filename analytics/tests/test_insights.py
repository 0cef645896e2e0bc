"""GET /api/v3/advanced/analytics/insights: each kind of finding, with its evidence, ranked."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.tests.factories import make_run, make_workflow
from workflows.models import Budget, Workflow

pytestmark = pytest.mark.django_db
URL = "/api/v3/advanced/analytics/insights"
DAY = timedelta(days=1)


def step(model="openai/gpt-4o", latency=100.0, cost="0", key="draft"):
    return {"key": key, "model": model, "latency_ms": latency, "cost": cost}


@pytest.fixture
def story(workspace):
    flaky = make_workflow(workspace, "Flaky")
    # Yesterday: four good runs at 100 ms a step. Today: two of four failed, steps at 400 ms.
    for _ in range(4):
        make_run(flaky, ago=DAY + timedelta(hours=2), cost="0.01", steps=[step(latency=100)])
    for status in ("failed", "failed", "succeeded", "succeeded"):
        make_run(flaky, status=status, ago=timedelta(hours=2), steps=[step(latency=400)])
    # Cost: about 0.01-0.02 a day for two weeks, then 5.0 in the last day.
    steady = make_workflow(workspace, "Steady")
    for days in range(2, 15):
        make_run(steady, ago=DAY * days, cost="0.01" if days % 2 else "0.02")
    expensive = step(model="openai/gpt-4o-mini", latency=900, cost="5.0", key="expensive")
    make_run(steady, ago=timedelta(seconds=5), cost="5.0", steps=[expensive])
    Budget.objects.create(workspace=workspace, monthly_cost_limit=Decimal("1.0"))
    idle = make_workflow(workspace, "Forgotten")
    Workflow.objects.filter(pk=idle.pk).update(created_at=timezone.now() - DAY * 40)
    return {"flaky": flaky, "steady": steady, "idle": idle}


def by_kind(results):
    found = {}
    for insight in results:
        found.setdefault(insight["kind"], []).append(insight)
    return found


def test_every_kind_of_insight_with_its_evidence(alice_api, story, workspace):
    response = alice_api.get(URL, {"time_range": "day"})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    kinds = by_kind(results)

    [rise] = kinds["failure_rate_rise"]
    assert rise["subject"] == {"type": "workflow", "id": story["flaky"].pk, "name": "Flaky"}
    assert rise["evidence"]["failure_rate"] == 0.5
    assert rise["evidence"]["previous_failure_rate"] == 0.0
    assert rise["severity"] == "high"

    [anomaly] = kinds["cost_anomaly"]
    assert anomaly["evidence"]["cost_last_day"] == 5.0
    assert anomaly["evidence"]["z_score"] > 3
    assert anomaly["subject"]["id"] == workspace.pk

    [budget] = kinds["budget_projection"]
    assert budget["severity"] == "critical"  # already over
    assert budget["evidence"]["budget"] == 1.0
    assert budget["evidence"]["spent"] >= 5.0

    [latency] = kinds["model_latency_rise"]
    assert latency["subject"]["id"] == "openai/gpt-4o"
    assert latency["evidence"]["growth"] == pytest.approx(4.0)

    assert kinds["slowest_step"][0]["subject"]["name"] == "Steady / expensive"
    assert kinds["costliest_step"][0]["evidence"]["cost"] == 5.0
    [idle] = kinds["idle_workflow"]
    assert idle["subject"]["id"] == story["idle"].pk

    # Ranked: the critical budget first, then high, warning, info.
    ranks = ["critical", "high", "warning", "info"]
    assert [ranks.index(i["severity"]) for i in results] == sorted(
        ranks.index(i["severity"]) for i in results
    )
    assert results[0]["kind"] == "budget_projection"
    for insight in results:
        assert insight["title"] and insight["explanation"] and insight["evidence"]


def test_a_quiet_workspace_has_no_alarms(alice_api, workspace):
    flow = make_workflow(workspace)
    for _ in range(3):
        make_run(flow)
    results = alice_api.get(URL).json()["results"]
    assert {i["severity"] for i in results} <= {"info"}


def test_insights_are_scoped(client_for, story, other_user):
    assert client_for(other_user).get(URL).json()["results"] == []
