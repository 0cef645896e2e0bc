"""The security API: the audit log (the brief's `limit`), filters, scoping, bad input as 4xx
in the error shape, exports that parse, the access review and a user's activity."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from audit.events import SecurityEventKind as K
from audit.services import record_security_event
from config.testing import assert_error
from conftest import STRONG_PASSWORD
from workflows.tests.factories import NOTES, make_workflow

pytestmark = pytest.mark.django_db

LOGS = "/api/v3/security/audit/logs"
EXPORT = "/api/v3/security/audit/export"


@pytest.fixture
def bearer(api, user, settings):
    settings.RATELIMIT_ENABLE = False
    token = api.post(
        "/api/v3/auth/login", {"username": "alice", "password": STRONG_PASSWORD}, format="json"
    ).json()["access"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_the_briefs_limit_returns_at_most_that_many_newest_first(bearer, user, workspace):
    for i in range(55):
        record_security_event(K.MFA_FAILED, actor=user, workspace=workspace, details={"i": i})
    response = bearer.get(LOGS, {"limit": 50})
    assert response.status_code == 200, response.content
    body = response.json()
    # + the login itself, and the change rows of alice's registration
    assert len(body["results"]) == 50 and body["count"] >= 56
    stamps = [row["timestamp"] for row in body["results"]]
    assert stamps == sorted(stamps, reverse=True)
    assert body["results"][0]["action"] == "mfa.failed"
    assert body["results"][0]["changes"] == {"i": 54}
    everything = bearer.get(LOGS, {"limit": 1000}).json()  # capped at 200
    assert len(everything["results"]) == everything["count"] == body["count"] < 200


def test_changes_and_events_in_one_feed_with_filters(alice_api, user, workspace):
    workflow = alice_api.post("/api/v3/workflows/", NOTES, format="json").json()
    record_security_event(K.PASSWORD_CHANGED, actor=user)
    everything = alice_api.get(LOGS).json()["results"]
    assert {row["source"] for row in everything} == {"change", "security"}
    changes = alice_api.get(
        LOGS, {"model": "workflows.workflow", "object_id": workflow["id"], "action": "create"}
    ).json()["results"]
    assert len(changes) == 1 and changes[0]["actor_id"] == user.pk
    assert changes[0]["workspace_id"] == workspace.pk and changes[0]["severity"] == "info"
    warnings = alice_api.get(LOGS, {"severity": "warning"}).json()["results"]
    assert warnings == []
    assert [r["action"] for r in alice_api.get(LOGS, {"q": "password"}).json()["results"]] == [
        "password.changed"
    ]
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    assert alice_api.get(LOGS, {"since": later}).json()["count"] == 0
    by_alice = [row for row in everything if row["actor_id"] == user.pk]
    assert alice_api.get(LOGS, {"actor": user.pk}).json()["count"] == len(by_alice) >= 2


@pytest.mark.parametrize(
    "params, code",
    [
        ({"since": "yesterday"}, "validation_error"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "invalid_audit_query"),
        ({"action": "explode"}, "validation_error"),
        ({"severity": "apocalyptic"}, "validation_error"),
        ({"model": "not a model"}, "validation_error"),
        ({"actor": "me"}, "validation_error"),
        ({"actor": str(2**70)}, "validation_error"),
        ({"workspace": "-3"}, "validation_error"),
        ({"q": "nul\x00byte"}, "validation_error"),
        ({"limit": "many"}, "validation_error"),
        ({"limit": "0"}, "validation_error"),
    ],
)
def test_bad_filters_are_400(alice_api, params, code):
    assert_error(alice_api.get(LOGS, params), 400, code)


def test_another_workspaces_audit_is_404_and_a_viewers_is_403(
    alice_api, client_for, other_user, other_workspace, workspace, add_member
):
    assert_error(alice_api.get(LOGS, {"workspace": other_workspace.pk}), 404)
    add_member(workspace, other_user, Role.VIEWER)
    assert_error(client_for(other_user).get(LOGS, {"workspace": workspace.pk}), 403)
    record_security_event(K.MFA_ENABLED, actor=other_user)
    # Alice's feed never shows Mallory's own account events.
    assert all(row["actor_id"] != other_user.pk for row in alice_api.get(LOGS).json()["results"])


def test_exports_parse(alice_api, user, workspace):
    make_workflow(user, workspace, NOTES)
    record_security_event(K.LOGIN_FAILED, username="alice", details={"why": "a=b|c"})
    response = alice_api.get(EXPORT, {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows and {"source", "timestamp", "action", "hash"} <= set(rows[0])
    count = len(rows)

    lines = b"".join(alice_api.get(EXPORT, {"format": "jsonl"}).streaming_content).splitlines()
    objects = [json.loads(line) for line in lines]
    assert len(objects) == count and all("action" in obj for obj in objects)

    cef = b"".join(alice_api.get(EXPORT, {"format": "cef"}).streaming_content).decode()
    cef_lines = cef.splitlines()
    assert len(cef_lines) == count
    for line in cef_lines:
        header = line.split("|")
        assert line.startswith("CEF:0|Docchain|Docchain|3.0|") and len(header) >= 8
        assert " rt=" in line or "|rt=" in line
    assert_error(alice_api.get(EXPORT, {"format": "xml"}), 400, "validation_error")


def test_security_events_are_your_own_and_your_workspaces(
    alice_api, client_for, user, other_user, workspace
):
    record_security_event(K.PASSWORD_CHANGED, actor=user)
    record_security_event(K.PASSWORD_CHANGED, actor=other_user)
    events = alice_api.get("/api/v3/security/events").json()
    assert [e["user"] for e in events["results"]] == [user.pk]
    theirs = client_for(other_user).get("/api/v3/security/events").json()["results"]
    assert_error(alice_api.get(f"/api/v3/security/events/{theirs[0]['id']}"), 404)


def test_compliance_report_json_and_csv(
    alice_api, client_for, user, other_user, workspace, add_member, other_workspace
):
    add_member(workspace, other_user, Role.VIEWER)
    url = "/api/v3/security/compliance/report"
    report = alice_api.get(url, {"workspace": workspace.pk})
    assert report.status_code == 200, report.content
    body = report.json()
    members = {m["username"]: m for m in body["members"]}
    assert members["alice"]["role"] == "owner" and members["mallory"]["role"] == "viewer"
    assert members["alice"]["mfa"] in ("enabled", "disabled", "not available")
    assert "mallory" in body["inactive_accounts"]  # never logged in
    assert body["chain"]["verified"] is True
    sheet = alice_api.get(url, {"workspace": workspace.pk, "format": "csv"})
    rows = list(csv.reader(io.StringIO(sheet.content.decode())))
    assert rows[0][0] == "section" and any(row[0] == "member" for row in rows)
    assert_error(client_for(other_user).get(url, {"workspace": workspace.pk}), 403)
    assert_error(alice_api.get(url, {"workspace": other_workspace.pk}), 404)
    assert_error(alice_api.get(url), 400, "validation_error")
    assert_error(alice_api.get(url, {"workspace": workspace.pk, "format": "pdf"}), 400)


def test_activity_for_the_user_and_admins_of_a_shared_workspace(
    alice_api, client_for, user, other_user, workspace, add_member, make_user
):
    url = "/api/v3/security/activity"
    add_member(workspace, other_user, Role.EDITOR)
    created = client_for(other_user).post(
        "/api/v3/workflows/", {**NOTES, "workspace": workspace.pk}, format="json"
    )
    assert created.status_code == 201, created.content
    record_security_event(K.PASSWORD_CHANGED, actor=other_user)  # account-level, not shared
    mine = client_for(other_user).get(url, {"user": other_user.pk}).json()
    assert {row["action"] for row in mine["results"]} >= {"create", "password.changed"}
    seen_by_admin = alice_api.get(url, {"user": other_user.pk}).json()["results"]
    assert seen_by_admin and all(row["workspace_id"] == workspace.pk for row in seen_by_admin)
    stranger = make_user("stranger")
    assert_error(client_for(stranger).get(url, {"user": other_user.pk}), 404)
    assert_error(alice_api.get(url), 400, "validation_error")
