"""GET /api/v3/advanced/analytics/timeseries: zero-filled buckets, on both databases."""

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.tests.factories import make_run, make_workflow

pytestmark = pytest.mark.django_db
URL = "/api/v3/advanced/analytics/timeseries"


def hour_of(moment):
    return moment.replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def runs(user, workspace):
    flow = make_workflow(workspace)
    now = timezone.now()
    # Two runs in the hour three hours ago (one failed), one an hour ago; none in between.
    three = hour_of(now) - timedelta(hours=3) + timedelta(minutes=10)
    made = [
        make_run(flow, ago=now - three, seconds=10, tokens=(10, 5), cost="0.5"),
        make_run(flow, ago=now - three - timedelta(minutes=5), seconds=30, status="failed"),
        make_run(flow, ago=timedelta(hours=1), seconds=20, tokens=(1, 1)),
    ]
    return made


def points(api, **query):
    response = api.get(URL, query)
    assert response.status_code == 200, response.content
    return response.json()["points"]


def test_runs_per_hour_are_zero_filled(alice_api, runs):
    series = points(alice_api, metric="runs", bucket="hour", time_range="day")
    assert len(series) in (24, 25)  # the hour `since` falls in, up to the current one
    by_hour = {p["bucket"]: p["value"] for p in series}
    assert sum(by_hour.values()) == 3
    assert series[-1]["value"] == 0  # the current hour: no run yet
    values = [p["value"] for p in series]
    assert values[-4:-1] == [2, 0, 1] or values[-5:-1] == [2, 0, 1, 0]
    assert all(v == 0 for v in values[: len(values) - 5])


def test_failures_tokens_cost_and_p95(alice_api, runs):
    assert sum(p["value"] for p in points(alice_api, metric="failures", bucket="day")) == 1
    assert sum(p["value"] for p in points(alice_api, metric="tokens", bucket="hour")) == 17
    assert sum(p["value"] for p in points(alice_api, metric="cost", bucket="hour")) == 0.5
    p95 = [p["value"] for p in points(alice_api, metric="duration_p95", bucket="hour")]
    # Empty hours have no percentile; the busy hour interpolates between 10 and 30 s.
    assert p95.count(None) == len(p95) - 2
    assert sorted(v for v in p95 if v is not None) == [pytest.approx(20.0, abs=0.01),
                                                       pytest.approx(29.0, abs=0.01)]  # fmt: skip


def test_weekly_buckets_start_on_monday(alice_api, runs):
    series = points(alice_api, metric="runs", bucket="week", time_range="month")
    assert sum(p["value"] for p in series) == 3
    assert all(p["bucket"][:10] for p in series)
    from django.utils.dateparse import parse_datetime

    assert {parse_datetime(p["bucket"]).weekday() for p in series} == {0}


@pytest.mark.parametrize(
    "query",
    [
        {"metric": "latency"},
        {"metric": "runs", "bucket": "minute"},
        {"metric": "runs", "bucket": "hour", "since": "2025-01-01", "until": "2026-01-01"},
        {"metric": "runs", "until": "2020-01-01T00:00:00Z", "since": "2021-01-01"},
    ],
)
def test_bad_input_is_400(alice_api, query):
    response = alice_api.get(URL, query)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_query"
