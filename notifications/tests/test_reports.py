"""Analytics reports reach the notification rules: `analytics.signals.report_ready` (sent
after the report commits, with `report=`) fires the workspace's "report ready" rules; the
email with the report's figures arrives at the local SMTP server, from the reports API and
from the beat job's path, through a real worker. The optional signals are wired or loud."""

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from analytics import services as analytics_services
from analytics.signals import report_ready
from analytics.tests.factories import make_run, make_workflow
from audit.signals import security_alert_raised
from config.testing import wait_until
from notifications import receivers
from notifications.models import Delivery

REPORTS = "/api/v3/advanced/analytics/reports"


def _listens(signal, uid: str) -> bool:
    return any(lookup[0] == uid for lookup, *_ in signal.receivers)


def test_notifications_listens_to_the_signals_its_optional_apps_send():
    assert _listens(report_ready, "notifications.report_ready")
    assert _listens(security_alert_raised, "notifications.security_alert")


def test_an_installed_app_without_the_expected_signal_is_a_loud_error():
    with pytest.raises(ImproperlyConfigured, match="analytics.signals.weekly_report_ready"):
        receivers._optional("analytics", "analytics.signals", "weekly_report_ready")
    assert receivers._optional("not_an_installed_app", "nowhere.signals", "x") is None


def _email_rule(api, workspace, address: str) -> None:
    channel = api.post(
        "/api/v3/notifications/channels/",
        {"workspace": workspace.pk, "kind": "email", "name": "mail"},
        format="json",
    )
    assert channel.status_code == 201, channel.content
    rule = api.post(
        "/api/v3/notifications/rules/",
        {
            "workspace": workspace.pk,
            "name": "weekly report",
            "event": "report.weekly",
            "channel": channel.json()["id"],
            "recipients": [address],
        },
        format="json",
    )
    assert rule.status_code == 201, rule.content


def _mail_to(local, address: str):
    found = wait_until(
        lambda: [m for m in local.mails if m["to"] == [address]],
        timeout=30,
        message=f"the report email to {address}",
    )
    [mail] = found
    return mail["message"]


@pytest.mark.integration
def test_a_report_made_over_the_api_is_emailed_by_the_rule(
    local, celery_worker, alice_api, workspace
):
    address = f"ops-{workspace.pk}-api@example.com"
    _email_rule(alice_api, workspace, address)
    flow = make_workflow(workspace, "Weekly brief")
    make_run(flow, tokens=(10, 20), cost="0.5", ago=timedelta(days=2))
    make_run(flow, status="failed", ago=timedelta(days=1))

    response = alice_api.post(REPORTS, {"workspace": workspace.pk}, format="json")
    assert response.status_code == 201, response.content
    report_id = response.json()["id"]

    message = _mail_to(local, address)
    assert message["Subject"] == f"Your analytics report for {workspace.name} is ready"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Runs: 2 (1 failed, success rate 50.0%)" in text
    assert "Tokens: 30. Cost: 0.5" in text
    assert f"/api/v3/advanced/analytics/reports/{report_id}/" in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f"/api/v3/advanced/analytics/reports/{report_id}/csv/" in html
    [delivery] = Delivery.objects.filter(recipient=address)
    assert delivery.status == "sent" and delivery.notification.event == "report.weekly"


@pytest.mark.integration
def test_the_beat_jobs_weekly_report_is_emailed_by_the_rule(
    local, celery_worker, alice_api, workspace
):
    from django_celery_beat.models import PeriodicTask

    from config.celery_app import app

    address = f"ops-{workspace.pk}-beat@example.com"
    _email_rule(alice_api, workspace, address)
    since, _ = analytics_services.last_week(timezone.now())
    make_run(make_workflow(workspace), ago=timezone.now() - (since + timedelta(hours=3)))

    # What beat sends for the default schedule's entry, to the real worker.
    entry = PeriodicTask.objects.get(name="analytics.weekly_reports (default schedule)")
    app.send_task(entry.task, kwargs=json.loads(entry.kwargs), queue=entry.queue)

    message = _mail_to(local, address)
    assert message["Subject"] == f"Your weekly report for {workspace.name} is ready"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Runs: 1 (0 failed, success rate 100.0%)" in text
    assert since.strftime("%Y-%m-%d 00:00 UTC") in text
