"""/metrics: django-prometheus's metrics and ours, in Prometheus' text format, for allowed
callers only; and /api/v3/health's performance figures for staff and the metrics token."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tasks.models import BackgroundTask
from workflows.tests.engine_support import chain, make_workflow, run_inline

URL = "/metrics"


def scrape(client, **extra) -> dict:
    response = client.get(URL, **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    return families


def value(families, name, sample_name=None, **labels) -> float:
    family = families[name]
    for sample in family.samples:
        if (sample_name is None or sample.name == sample_name) and all(
            sample.labels.get(k) == v for k, v in labels.items()
        ):
            return sample.value
    return 0.0


@pytest.mark.django_db(transaction=True)
def test_metrics_show_our_figures_after_a_run(client, user, workspace):
    before = scrape(client)
    finished = value(
        before, "docchain_runs_finished", "docchain_runs_finished_total", status="succeeded"
    )
    steps = value(
        before, "docchain_step_duration_seconds", "docchain_step_duration_seconds_count",
        kind="transform", status="succeeded",
    )  # fmt: skip
    workflow = make_workflow(user, workspace, chain(3))
    BackgroundTask.objects.create(workspace=workspace, task_type="demo", status="failed", timeout=5)

    from accounts.scoping import Actor
    from workflows.engine import runs as engine_runs

    run_inline(
        lambda d: engine_runs.start_run(
            actor=Actor(user), workflow=workflow, inputs={}, dispatcher=d
        )
    )

    after = scrape(client)
    assert value(after, "docchain_runs_finished", "docchain_runs_finished_total",
                 status="succeeded") == finished + 1  # fmt: skip
    assert value(
        after, "docchain_step_duration_seconds", "docchain_step_duration_seconds_count",
        kind="transform", status="succeeded",
    ) == steps + 3  # fmt: skip
    assert value(after, "docchain_runs_in_state", status="queued") == 0
    assert value(after, "docchain_background_tasks", status="failed") == 1
    for name in (
        "docchain_queue_depth",
        "docchain_workers_alive",
        "docchain_websocket_connections",
        "docchain_ai_tokens",
        "docchain_steps_in_state",
        # django-prometheus: requests, latency, database.
        "django_http_requests_before_middlewares",
        "django_http_requests_latency_seconds_by_view_method",
        "django_db_execute",
    ):
        assert name in after, name


@pytest.mark.django_db
def test_metrics_are_private(client, settings):
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    response = client.get(URL, **outside)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "metrics_forbidden"

    settings.METRICS_TOKEN = "scrape-me-0123456789"
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer wrong", **outside).status_code == 403
    scrape(client, HTTP_AUTHORIZATION="Bearer scrape-me-0123456789", **outside)

    settings.METRICS_ALLOWED_IPS = ["203.0.113.0/24"]
    scrape(client, **outside)
    settings.METRICS_ALLOWED_IPS = []
    assert client.get(URL).status_code == 403  # not even loopback now


@pytest.mark.django_db
def test_health_adds_performance_for_staff_and_the_token(api, client_for, make_user, settings):
    anonymous = api.get("/api/v3/health").json()
    assert "performance" not in anonymous
    assert set(anonymous["checks"]) == {"database", "cache", "broker", "channel_layer", "workers"}

    staff = make_user("root")
    staff.is_staff = True
    staff.save()
    body = client_for(staff).get("/api/v3/health").json()
    performance = body["performance"]
    assert set(performance) == {
        "requests", "queue_depths", "workers", "oldest_queued_step_seconds"
    }  # fmt: skip
    assert performance["requests"]["requests"] >= 1  # this very request's predecessors
    assert set(performance["queue_depths"]) == {"high", "default", "low"}

    settings.METRICS_TOKEN = "scrape-me-0123456789"
    with_token = api.get("/api/v3/health", HTTP_AUTHORIZATION="Bearer scrape-me-0123456789")
    assert "performance" in with_token.json()
    bad_token = api.get("/api/v3/health", HTTP_AUTHORIZATION="Bearer nope")
    assert bad_token.status_code in (200, 503) and "performance" not in bad_token.json()
