"""Events: in-app notifications reach the user's WebSocket as `notification.created`;
delivery events on the workspace topic carry ids and status only; budget thresholds notify
once; rules answer to their events."""

from datetime import time
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from accounts.scoping import Actor
from ai import services as ai_services
from ai.models import UsageRecord
from notifications import runner
from notifications.models import Delivery, InboxItem, Notification, Preference, Rule
from notifications.tests.conftest import SEND
from realtime.groups import workspace_group
from realtime.tests.conftest import connected
from workflows import services as workflow_services


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_websocket_client_receives_notification_created(
    user, workspace, alice_api, no_worker
):
    # This test delivers the message itself: the shared worker must not claim it first.
    client = await connected(user)
    try:
        response = await sync_to_async(alice_api.post)(
            SEND,
            {"channel": "in_app", "recipient": "@alice", "subject": "Hi", "message": "there"},
            format="json",
        )
        assert response.status_code == 202
        delivery_id = response.json()["deliveries"][0]["id"]
        assert await sync_to_async(runner.deliver)(delivery_id) == "sent"
        event = await client.receive_json_from(timeout=5)
        while event["type"] != "notification.created":
            event = await client.receive_json_from(timeout=5)
        item = await sync_to_async(InboxItem.objects.get)(user=user)
        assert event["data"]["id"] == item.pk
        assert event["data"]["subject"] == "Hi" and event["data"]["message"] == "there"
        assert event["data"]["read"] is False
    finally:
        await client.disconnect()


@pytest.mark.django_db
def test_delivery_events_carry_ids_and_status_only(alice_api, workspace, local):
    layer = get_channel_layer()
    channel_name = "test.watcher"
    from asgiref.sync import async_to_sync

    async_to_sync(layer.group_add)(workspace_group(workspace.pk), channel_name)
    sent = alice_api.post(
        SEND,
        {"channel": "email", "recipient": "secret@example.com", "message": "m"},
        format="json",
    ).json()
    runner.deliver(sent["deliveries"][0]["id"])
    seen = []
    while True:
        try:
            message = async_to_sync(layer.receive)(channel_name)
        except Exception:
            break
        seen.extend(message["events"])
        if any(e["type"] == "notification.delivery.sent" for e in seen):
            break
    types = [e["type"] for e in seen]
    assert "notification.delivery.sending" in types and "notification.delivery.sent" in types
    for event in seen:
        assert "secret@example.com" not in str(event)
        assert set(event["data"]) == {
            "delivery_id",
            "notification_id",
            "workspace_id",
            "channel",
            "status",
            "attempts",
            "error_code",
        }


def _usage(workspace, cost: str):
    return UsageRecord(
        workspace_id=workspace.pk,
        model="m",
        provider="p",
        prompt_tokens=1,
        completion_tokens=1,
        total_tokens=2,
        cost=Decimal(cost),
        latency_ms=1,
    )


@pytest.mark.django_db
def test_budget_80_and_100_notify_once_each_where_spend_is_recorded(
    user, workspace, django_capture_on_commit_callbacks
):
    workflow_services.set_budget(
        actor=Actor(user),
        workspace=workspace,
        monthly_cost_limit=Decimal("10"),
        monthly_token_limit=None,
    )
    for event in ("budget.80", "budget.100"):
        Rule.objects.create(workspace=workspace, name=event, event=event, channel_kind="in_app")

    def spend(cost):
        with django_capture_on_commit_callbacks(execute=True):
            ai_services.save_usage([_usage(workspace, cost)])

    spend("5")
    assert not Notification.objects.exists()
    spend("3.5")  # 85%
    spend("0.5")  # 90%: 80% was already told this month
    [eighty] = Notification.objects.filter(event="budget.80")
    assert "used 85% of its monthly cost budget (8.5000 of 10" in eighty.message
    spend("2")  # 110%
    spend("1")
    assert Notification.objects.filter(event="budget.100").count() == 1
    assert Delivery.objects.filter(notification__event__startswith="budget").count() == 2


@pytest.mark.django_db
def test_a_budget_rule_made_after_spend_was_checked_is_heard(
    user, workspace, django_capture_on_commit_callbacks
):
    """Whether a workspace's spend is watched is cached (asked after every model call); a new
    budget or rule forgets that answer once it commits."""
    from notifications import rules

    def spend(cost):
        with django_capture_on_commit_callbacks(execute=True):
            ai_services.save_usage([_usage(workspace, cost)])

    spend("9")
    assert rules.budget_watched(workspace.pk) is False  # no budget, no rule: cached as such
    with django_capture_on_commit_callbacks(execute=True):
        workflow_services.set_budget(
            actor=Actor(user),
            workspace=workspace,
            monthly_cost_limit=Decimal("10"),
            monthly_token_limit=None,
        )
    spend("0.1")
    assert rules.budget_watched(workspace.pk) is False  # a budget, but no rule yet
    with django_capture_on_commit_callbacks(execute=True):
        Rule.objects.create(
            workspace=workspace, name="b80", event="budget.80", channel_kind="in_app"
        )
    spend("0.1")  # 92%
    assert Notification.objects.filter(event="budget.80").count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        Rule.objects.filter(workspace=workspace).delete()
    assert rules.budget_watched(workspace.pk) is False


@pytest.mark.django_db
def test_a_report_fires_the_report_rule_with_its_figures(
    user, workspace, django_capture_on_commit_callbacks
):
    from analytics import services as analytics_services

    Rule.objects.create(workspace=workspace, name="w", event="report.weekly", channel_kind="in_app")
    with django_capture_on_commit_callbacks(execute=True):
        report = analytics_services.create_report(actor=Actor(user), workspace_id=workspace.pk)
    notification = Notification.objects.get(event="report.weekly")
    assert notification.subject == f"Your analytics report for {workspace.name} is ready"
    assert "Runs: 0 (0 failed, success rate n/a)" in notification.message
    assert notification.data["url"].endswith(f"/api/v3/advanced/analytics/reports/{report.pk}/")
    assert [d.recipient for d in notification.deliveries.all()] == [f"user:{user.pk}"]


@pytest.mark.django_db
def test_quiet_hours_hold_normal_priority_until_they_end(alice_api, user):
    Preference.objects.create(
        user=user, quiet_hours_start=time(0, 0), quiet_hours_end=time(23, 59), timezone="UTC"
    )
    body = {"channel": "in_app", "recipient": "@alice", "message": "m"}
    held = alice_api.post(SEND, body, format="json").json()["deliveries"][0]
    assert held["next_attempt_at"] is not None
    assert runner.deliver(held["id"]) == "not_claimed"  # not before the quiet hours end
    urgent = alice_api.post(SEND, {**body, "priority": "high"}, format="json").json()
    assert urgent["deliveries"][0]["next_attempt_at"] is None


@pytest.mark.django_db
def test_a_security_alert_fires_its_rule(user, workspace, django_capture_on_commit_callbacks):
    from audit.alerts import raise_alert

    Rule.objects.create(
        workspace=workspace, name="s", event="security.alert", channel_kind="in_app"
    )
    with django_capture_on_commit_callbacks(execute=True):
        raise_alert(
            rule="failed_logins",
            severity="high",
            title="Ten failed logins",
            dedup_key="test-alert-1",
            evidence={},
            workspace_id=workspace.pk,
        )
    notification = Notification.objects.get(event="security.alert")
    assert notification.subject == "Security alert: Ten failed logins"
    assert [d.user_id for d in notification.deliveries.all()] == [user.pk]


@pytest.mark.django_db
def test_channel_changes_reach_the_audit_log_without_secrets(alice_api, workspace):
    from audit.models import AuditLogEntry

    secret_url = "https://hooks.slack.com/services/T0/B0/verysecretvalue"
    made = alice_api.post(
        "/api/v3/notifications/channels/",
        {"workspace": workspace.pk, "kind": "slack", "name": "ops", "secrets": {"url": secret_url}},
        format="json",
    ).json()
    entry = AuditLogEntry.objects.get(object_pk=str(made["id"]), content_type__model="channel")
    assert "ops" in str(entry.changes) and "verysecret" not in str(entry.changes)


@pytest.mark.django_db
def test_generate_past_the_token_budget_notifies_100(
    alice_api, user, workspace, django_capture_on_commit_callbacks
):
    workflow_services.set_budget(
        actor=Actor(user), workspace=workspace, monthly_cost_limit=None, monthly_token_limit=10
    )
    Rule.objects.create(workspace=workspace, name="b", event="budget.100", channel_kind="in_app")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(
            "/api/v3/advanced/ai/generate", {"prompt": "Write a tagline for a lawn mower."}
        )
    assert response.status_code == 200, response.content
    notification = Notification.objects.get(event="budget.100")
    assert "monthly tokens budget of 10" in notification.message
