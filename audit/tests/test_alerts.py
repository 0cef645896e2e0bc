"""Threat rules raise alerts; an alert reaches its user's WebSocket as `security.alert` and
notifications through `security_alert_raised`; admins acknowledge it with a comment."""

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Role
from audit.context import acting_for
from audit.events import SecurityEventKind as K
from audit.models import AuditLogEntry, SecurityAlert, SecurityEvent
from audit.services import record_security_event
from audit.signals import security_alert_raised
from config.testing import assert_error
from realtime.tests.conftest import connected
from workflows.models import Workflow
from workflows.tests.factories import NOTES, make_workflow


def fail_logins(n: int, username="alice", ip="198.51.100.20"):
    client = Client(REMOTE_ADDR=ip)
    for _ in range(n):
        response = client.post(
            "/api/v3/auth/login",
            {"username": username, "password": "wrong-password-1"},
            content_type="application/json",
        )
        assert response.status_code in (401, 429)  # 429: refused by the account lockout


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_six_failed_logins_push_a_security_alert_to_the_user(user, settings):
    settings.RATELIMIT_ENABLE = False
    heard = []

    def receiver(sender, alert, **kwargs):
        heard.append(alert.pk)

    security_alert_raised.connect(receiver, dispatch_uid="test-alert-receiver")
    client = await connected(user)
    try:
        await sync_to_async(fail_logins)(6)
        event = await client.receive_json_from(timeout=5)
        assert event["type"] == "security.alert"
        data = event["data"]
        assert data["rule"] == "failed_logins" and data["user"] == user.pk
        assert data["evidence"]["ips"] == ["198.51.100.20"]
        assert await client.receive_nothing(timeout=0.2)  # one alert, not one per failure
    finally:
        await client.disconnect()
        security_alert_raised.disconnect(dispatch_uid="test-alert-receiver")
    alert = await SecurityAlert.objects.aget()
    assert heard == [alert.pk]


@pytest.mark.django_db
def test_credential_stuffing_from_one_ip(settings, db):
    settings.RATELIMIT_ENABLE = False
    settings.ALERT_STUFFING_ACCOUNTS = 4
    for name in ("ann", "bob", "cy", "dee"):
        fail_logins(1, username=name, ip="203.0.113.50")
    alert = SecurityAlert.objects.get(rule="credential_stuffing")
    assert alert.ip == "203.0.113.50" and alert.evidence["usernames"] == ["ann", "bob", "cy", "dee"]


@pytest.mark.django_db
def test_probe_burst_api_key_new_ip_and_login_after_lockout(user, settings, rf):
    settings.ALERT_PROBE_BURST = 5
    for _ in range(5):
        record_security_event(K.ACCESS_CROSS_WORKSPACE_PROBE, actor=user, details={"path": "/x"})
    assert SecurityAlert.objects.get(rule="probe_burst").evidence["count"] == 5
    request = rf.get("/", REMOTE_ADDR="192.0.2.99")
    record_security_event(
        K.APIKEY_USED_NEW_IP, request=request, actor=user, details={"prefix": "p1"}
    )
    assert SecurityAlert.objects.get(rule="api_key_new_ip").ip == "192.0.2.99"
    record_security_event(K.LOCKED_OUT, username="alice")
    record_security_event(K.LOGIN_SUCCEEDED, actor=user)
    alert = SecurityAlert.objects.get(rule="login_after_lockout")
    assert alert.user_id == user.pk


@pytest.mark.django_db
def test_mass_deletion(user, workspace, settings):
    settings.ALERT_MASS_DELETION = 3
    for i in range(3):
        make_workflow(user, workspace, {**NOTES, "name": f"w{i}"})
    with acting_for(user):
        for workflow in Workflow.objects.all():
            workflow.delete()
    deletions = AuditLogEntry.objects.filter(
        action=AuditLogEntry.Action.DELETE, content_type__model="workflow"
    )
    assert deletions.count() == 3
    alert = SecurityAlert.objects.get(rule="mass_deletion")
    assert alert.user_id == user.pk and alert.evidence["deletions"] >= 3


@pytest.mark.django_db
def test_acknowledge_needs_an_admin_and_a_comment(
    alice_api, client_for, user, other_user, workspace, add_member
):
    add_member(workspace, other_user, Role.EDITOR)
    record_security_event(
        K.MEMBER_ROLE_CHANGED,
        actor=user,
        workspace=workspace,
        details={"member_id": other_user.pk, "role": "owner", "old_role": "editor"},
    )
    alert = SecurityAlert.objects.get(rule="privilege_escalation")
    url = f"/api/v3/security/alerts/{alert.pk}/acknowledge"
    # The editor it concerns sees it (it is theirs) but may not acknowledge a workspace alert.
    mallory = client_for(other_user)
    assert mallory.get(f"/api/v3/security/alerts/{alert.pk}").status_code == 200
    assert_error(mallory.post(url, {"comment": "fine"}), 403)
    assert_error(alice_api.post(url, {}), 400, "validation_error")
    done = alice_api.post(url, {"comment": "Promoted on purpose"})
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["status"] == "acknowledged" and body["acknowledged_by"] == user.pk
    assert body["comment"] == "Promoted on purpose"
    assert_error(alice_api.post(url, {"comment": "again"}), 409, "alert_already_acknowledged")
    assert_error(
        alice_api.post("/api/v3/security/alerts/999999/acknowledge", {"comment": "x"}), 404
    )


@pytest.mark.django_db
def test_an_api_key_from_a_new_ip_is_an_event_and_an_alert(alice_api, user, workspace):
    created = alice_api.post(
        "/api/v3/security/api-keys/", {"name": "ci", "scopes": ["read"], "workspace": workspace.pk}
    ).json()
    key = APIClient()
    key.credentials(HTTP_AUTHORIZATION=f"Api-Key {created['key']}")
    for ip in ("192.0.2.1", "192.0.2.1", "192.0.2.2", "192.0.2.1", "192.0.2.2"):
        assert key.get("/api/v3/workflows/", REMOTE_ADDR=ip).status_code == 200
    events = SecurityEvent.objects.filter(kind=K.APIKEY_USED_NEW_IP).order_by("id")
    assert [(e.details["ip"], e.details["first_use"], e.severity) for e in events] == [
        ("192.0.2.1", True, "info"),
        ("192.0.2.2", False, "warning"),
    ]
    alert = SecurityAlert.objects.get(rule="api_key_new_ip")
    assert alert.ip == "192.0.2.2" and alert.workspace_id == workspace.pk
    assert alert.evidence["prefix"] == created["id"]
