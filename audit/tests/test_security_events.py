"""Security events: what accounts emits, what the service stores, and that it never raises."""

import time

import pytest
from django.db import connection, transaction

from accounts.models import Role
from audit import chain
from audit.events import SecurityEventKind as K
from audit.models import SecurityAlert, SecurityEvent
from audit.services import flush_closed_windows, record_security_event
from conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_login_rate_limit(settings):
    settings.RATELIMIT_ENABLE = False  # these tests log in more than LOGIN_RATE allows


def login(api, username, password, ip="198.51.100.7"):
    return api.post(
        "/api/v3/auth/login",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=ip,
        HTTP_USER_AGENT="curl/8.5",
        HTTP_X_REQUEST_ID="req-123",
    )


def test_failed_logins_are_events_with_ip_username_and_account(api, user):
    for _ in range(3):
        assert login(api, "alice", "wrong-password").status_code == 401
    events = SecurityEvent.objects.filter(kind=K.LOGIN_FAILED)
    assert events.count() == 3
    for event in events:
        assert event.username == "alice" and event.ip == "198.51.100.7"
        assert event.user_id == user.pk and event.actor_id is None
        assert event.user_agent == "curl/8.5" and event.request_id == "req-123"
        assert event.severity == "warning" and event.chain == chain.user_chain(user.pk)
        assert "password" not in str(event.details)
    assert not SecurityAlert.objects.exists()  # 3 is under the threshold (5)


def test_unknown_username_goes_to_the_anonymous_chain(api, db):
    assert login(api, "nobody", "whatever-1").status_code == 401
    event = SecurityEvent.objects.get(kind=K.LOGIN_FAILED)
    assert event.username == "nobody" and event.user_id is None
    assert event.chain == chain.ANONYMOUS_CHAIN


def test_login_and_logout_are_recorded(api, user):
    response = login(api, "alice", STRONG_PASSWORD)
    assert response.status_code == 200
    ok = SecurityEvent.objects.get(kind=K.LOGIN_SUCCEEDED)
    assert ok.actor_id == user.pk and ok.ip == "198.51.100.7" and ok.severity == "info"
    user.refresh_from_db()
    assert user.last_login is not None  # Django's user_logged_in receiver still runs
    refresh = response.json()["refresh"]
    assert api.post("/api/v3/auth/logout", {"refresh": refresh}, format="json").status_code == 204
    out = SecurityEvent.objects.get(kind=K.LOGOUT)
    assert out.actor_id == user.pk and out.user_id == user.pk


def test_failed_logins_raise_one_alert_at_the_threshold(api, user, settings):
    settings.ALERT_FAILED_LOGINS = 5
    for _ in range(6):
        login(api, "alice", "wrong-password")
    alert = SecurityAlert.objects.get()
    assert alert.rule == "failed_logins" and alert.user_id == user.pk
    assert alert.evidence["failed_logins"] == 5 and alert.evidence["ips"] == ["198.51.100.7"]


def test_member_and_api_key_events(alice_api, user, other_user, workspace):
    added = alice_api.post(
        f"/api/v3/workspaces/{workspace.pk}/members/", {"user": "mallory", "role": "viewer"}
    )
    assert added.status_code == 201, added.content
    changed = alice_api.patch(
        f"/api/v3/workspaces/{workspace.pk}/members/{other_user.pk}/", {"role": "admin"}
    )
    assert changed.status_code == 200, changed.content
    removed = alice_api.delete(f"/api/v3/workspaces/{workspace.pk}/members/{other_user.pk}/")
    assert removed.status_code == 204
    key = alice_api.post(
        "/api/v3/security/api-keys/", {"name": "ci", "scopes": ["read"], "workspace": workspace.pk}
    )
    assert key.status_code == 201, key.content
    prefix = key.json()["id"]
    assert alice_api.delete(f"/api/v3/security/api-keys/{prefix}/").status_code == 204

    events = list(SecurityEvent.objects.order_by("seq"))
    assert [e.kind for e in events] == [
        K.MEMBER_ADDED,
        K.MEMBER_ROLE_CHANGED,
        K.MEMBER_REMOVED,
        K.APIKEY_CREATED,
        K.APIKEY_REVOKED,
    ]
    assert {e.chain for e in events} == {chain.workspace_chain(workspace.pk)}
    assert chain.verify(workspace_id=workspace.pk)[1] == []
    assert all(e.actor_id == user.pk and e.workspace_id == workspace.pk for e in events)
    assert events[1].details == {
        "member_id": other_user.pk,
        "member": "mallory",
        "role": Role.ADMIN,
        "old_role": Role.VIEWER,
    }
    assert events[3].details["prefix"] == prefix
    assert "key" not in events[3].details  # never the secret
    # Made admin: a privilege escalation alert for the workspace.
    alert = SecurityAlert.objects.get(rule="privilege_escalation")
    assert alert.workspace_id == workspace.pk and alert.user_id == other_user.pk


def test_record_security_event_never_raises(user, caplog):
    record_security_event("no.such_kind", actor=user)
    record_security_event(K.MFA_FAILED, actor=user, details={"bad": object()})
    assert not SecurityEvent.objects.exists()
    assert "could not record security event" in caplog.text


def test_a_failed_audit_write_leaves_the_callers_transaction_usable(user, workspace):
    with transaction.atomic():
        record_security_event(K.MFA_FAILED, actor=user, details={"bad": object()})
        record_security_event(K.MFA_ENABLED, actor=user)
        # The caller's own work goes on in the same transaction.
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    assert SecurityEvent.objects.get().kind == K.MFA_ENABLED


def test_high_volume_kinds_are_one_row_per_window_with_a_count(user, other_user, rf, settings):
    settings.AUDIT_COUNT_FLUSH_SECONDS = 0  # bring the count up to date on every hit
    for _ in range(10):
        record_security_event(K.ACCESS_DENIED, actor=user, details={"path": "/x"})
    for _ in range(3):
        record_security_event(K.ACCESS_DENIED, request=rf.get("/y", REMOTE_ADDR="203.0.113.9"))
    rows = SecurityEvent.objects.filter(kind=K.ACCESS_DENIED).order_by("id")
    assert [(r.actor_id, r.ip, r.count) for r in rows] == [
        (user.pk, None, 10),
        (None, "203.0.113.9", 3),
    ]
    assert rows[0].details["window_seconds"] == settings.AUDIT_COUNT_WINDOW_SECONDS
    assert chain.verify()[1] == []  # the count is outside the hash


def test_an_ended_window_gets_its_final_count(user, settings):
    """Hits after the window's last flush reach the row when the beat job closes the window."""
    settings.AUDIT_COUNT_FLUSH_SECONDS = 3600  # one flush per window: the second hit's
    for _ in range(10):
        record_security_event(K.ACCESS_DENIED, actor=user)
    row = SecurityEvent.objects.get(kind=K.ACCESS_DENIED)
    assert row.count == 2
    assert flush_closed_windows(now=time.time()) == 0  # still open: nothing to close
    ended = time.time() + settings.AUDIT_COUNT_WINDOW_SECONDS
    assert flush_closed_windows(now=ended) == 1
    row.refresh_from_db()
    assert row.count == 10
    assert flush_closed_windows(now=ended) == 0  # each window is closed once
    assert chain.verify()[1] == []


def test_the_client_ip_believes_only_trusted_proxies(rf, settings, user):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.1")
    record_security_event(K.PASSWORD_CHANGED, request=request, actor=user)
    settings.TRUSTED_PROXY_COUNT = 1
    record_security_event(K.PASSWORD_CHANGED, request=request, actor=user)
    assert list(SecurityEvent.objects.order_by("id").values_list("ip", flat=True)) == [
        "10.0.0.2",
        "198.51.100.1",
    ]
