"""Password change (other sessions end), reset by email (same answer either way, token used
once and only for its user), and the validate-only report."""

import re

import pytest
from django.core import mail

from accounts.models import LoginSession, WorkspaceSecurityPolicy
from config.testing import assert_error
from conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Another-Horse-77-staple"


def test_change_ends_other_sessions_and_keeps_this_one(login, bearer, user):
    current = login().json()
    other = login().json()
    client = bearer(current["access"])
    response = client.post(
        "/api/v3/security/password/change",
        {"old_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )
    assert response.status_code == 200 and response.json() == {"sessions_ended": 1}
    assert client.get("/api/v3/auth/me").status_code == 200
    assert_error(bearer(other["access"]).get("/api/v3/auth/me"), 401, "session_revoked")
    assert login(password=NEW_PASSWORD).status_code == 200
    assert_error(login(), 401, "invalid_credentials")


def test_change_refuses_a_wrong_old_password_and_a_weak_new_one(alice_api):
    assert_error(
        alice_api.post(
            "/api/v3/security/password/change",
            {"old_password": "wrong", "new_password": NEW_PASSWORD},
            format="json",
        ),
        400,
        "invalid_password",
    )
    error = assert_error(
        alice_api.post(
            "/api/v3/security/password/change",
            {"old_password": STRONG_PASSWORD, "new_password": "password"},
            format="json",
        ),
        400,
        "validation_error",
    )
    assert len(error["details"]["new_password"]) >= 2


def _reset_link(outbox_message) -> tuple[str, str]:
    uid = re.search(r'"uid": "([^"]+)"', outbox_message.body).group(1)
    token = re.search(r'"token": "([^"]+)"', outbox_message.body).group(1)
    return uid, token


def test_reset_by_email_once_and_sessions_end(api, login, bearer, user, make_user):
    tokens = login().json()
    known = api.post("/api/v3/security/password/reset", {"email": "alice@example.com"})
    unknown = api.post("/api/v3/security/password/reset", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.com"]
    uid, token = _reset_link(mail.outbox[0])

    confirm = {"uid": uid, "token": token, "new_password": NEW_PASSWORD}
    assert api.post("/api/v3/security/password/reset/confirm", confirm).status_code == 200
    assert_error(bearer(tokens["access"]).get("/api/v3/auth/me"), 401, "session_revoked")
    assert login(password=NEW_PASSWORD).status_code == 200
    # Used twice: refused.
    again = {**confirm, "new_password": "Third-Horse-99-staple"}
    assert_error(
        api.post("/api/v3/security/password/reset/confirm", again), 400, "invalid_reset_token"
    )

    # The token for another user's uid: refused.
    bob = make_user("bob")
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    mail.outbox.clear()
    api.post("/api/v3/security/password/reset", {"email": "alice@example.com"})
    _, alice_token = _reset_link(mail.outbox[0])
    forged = {
        "uid": urlsafe_base64_encode(force_bytes(bob.pk)),
        "token": alice_token,
        "new_password": "Third-Horse-99-staple",
    }
    assert_error(
        api.post("/api/v3/security/password/reset/confirm", forged), 400, "invalid_reset_token"
    )
    garbage = {"uid": "!!", "token": "x", "new_password": "Third-Horse-99-staple"}
    assert_error(
        api.post("/api/v3/security/password/reset/confirm", garbage), 400, "invalid_reset_token"
    )
    assert_error(api.post("/api/v3/security/password/reset", {"email": "nope"}), 400)


def test_validate_password_reports_every_rule_without_creating_anything(api, alice_api, workspace):
    from accounts.models import User

    users_before = User.objects.count()
    weak = api.post(
        "/api/v3/security/validate-password", {"password": "alice123", "username": "alice"}
    ).json()
    assert weak["valid"] is False and weak["score"] <= 1
    codes = {e["code"] for e in weak["errors"]}
    assert {"password_too_short", "password_too_simple"} <= codes
    strong = api.post("/api/v3/security/validate-password", {"password": NEW_PASSWORD}).json()
    assert strong["valid"] is True and strong["errors"] == [] and strong["strength"] == "strong"
    assert User.objects.count() == users_before
    assert_error(api.post("/api/v3/security/validate-password", {}), 400, "validation_error")

    # A workspace's minimum length applies to its members.
    WorkspaceSecurityPolicy.objects.create(workspace=workspace, min_password_length=30)
    mine = alice_api.post("/api/v3/security/validate-password", {"password": NEW_PASSWORD}).json()
    assert mine["valid"] is False and mine["min_length"] == 30
    assert LoginSession.objects.count() == 0
