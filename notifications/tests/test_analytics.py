"""Notifications in analytics: the summary's deliveries by channel and status (from the
database, scoped to the caller's workspaces) and /metrics' deliveries by channel and status,
after real deliveries to the local receivers (runner.deliver is the worker's code path)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from notifications import runner
from notifications.models import Delivery
from notifications.tests.conftest import SEND

SUMMARY = "/api/v3/advanced/analytics/summary"


def _deliver(api, **body) -> list[str]:
    response = api.post(SEND, body, format="json")
    assert response.status_code == 202, response.content
    statuses = [runner.deliver(row["id"]) for row in response.json()["deliveries"]]
    return statuses


@pytest.fixture
def delivered(local, alice_api, client_for, other_user, unique_path):
    """Alice's workspace: two emails sent, one Slack delivery failed for good (the receiver
    answers 400); Mallory's: one email sent."""
    assert _deliver(alice_api, channel="email", recipients=["a@example.com", "b@example.com"],
                    subject="s", message="m") == ["sent", "sent"]  # fmt: skip
    bad = local.url(unique_path("/bad"))
    assert _deliver(alice_api, channel="slack", recipient=bad, message="m") == ["failed"]
    assert _deliver(client_for(other_user), channel="email", recipient="c@example.com",
                    message="m") == ["sent"]  # fmt: skip


@pytest.mark.django_db
def test_the_summary_counts_deliveries_by_channel_in_the_callers_workspaces(
    alice_api, workspace, delivered, django_assert_max_num_queries
):
    body = alice_api.get(SUMMARY, {"time_range": "day"}).json()
    figures = body["notifications"]
    assert (figures["total"], figures["sent"], figures["failed"]) == (3, 2, 1)
    assert figures["by_status"]["sent"] == 2 and figures["by_status"]["queued"] == 0
    assert figures["by_channel"]["email"]["sent"] == 2
    assert figures["by_channel"]["email"]["total"] == 2
    assert figures["by_channel"]["slack"]["failed"] == 1
    assert set(figures["by_channel"]) == {"email", "slack"}  # Mallory's email is not hers

    # An older delivery is outside the day, inside the week.
    Delivery.objects.filter(channel_kind="slack").update(
        created_at=timezone.now() - timedelta(days=3)
    )
    day = alice_api.get(SUMMARY, {"time_range": "day"}).json()["notifications"]
    week = alice_api.get(SUMMARY, {"time_range": "week"}).json()["notifications"]
    assert (day["failed"], week["failed"]) == (0, 1)

    from analytics import selectors
    from analytics.window import system_window

    window = system_window(
        since=timezone.now() - timedelta(days=7), until=timezone.now(), workspace_ids=[workspace.pk]
    )
    with django_assert_max_num_queries(1):  # one aggregate query, no rows
        selectors.notification_figures(window)


@pytest.mark.django_db
def test_metrics_show_deliveries_by_channel_and_status(client, delivered):
    response = client.get("/metrics")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    samples = {
        (s.labels["channel"], s.labels["status"]): s.value
        for s in families["docchain_notification_deliveries"].samples
    }
    # All workspaces: /metrics is the operator's view.
    assert samples[("email", "sent")] == 3
    assert samples[("slack", "failed")] == 1
    assert samples[("sms", "sent")] == 0
