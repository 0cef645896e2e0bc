"""Workspace security policies: who may set them, bad input, and each rule enforced by the
authentication and permission classes (not per view)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiKey, LoginSession, Role
from config.testing import assert_error

pytestmark = pytest.mark.django_db


def _url(workspace):
    return f"/api/v3/workspaces/{workspace.pk}/security-policy"


def test_read_by_members_set_by_admins_hidden_from_others(
    alice_api, client_for, make_user, add_member, workspace, other_user
):
    viewer = make_user("victor")
    add_member(workspace, viewer, Role.VIEWER)
    assert alice_api.get(_url(workspace)).json()["require_mfa"] is False
    saved = alice_api.put(
        _url(workspace),
        {"min_password_length": 14, "allowed_cidrs": ["127.1.2.3/8", "2001:db8::/32"]},
        format="json",
    )
    assert saved.status_code == 200, saved.content
    assert saved.json()["allowed_cidrs"] == ["127.0.0.0/8", "2001:db8::/32"]
    assert client_for(viewer).get(_url(workspace)).json()["min_password_length"] == 14
    assert_error(client_for(viewer).patch(_url(workspace), {"require_mfa": True}), 403)
    assert_error(client_for(other_user).get(_url(workspace)), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"allowed_cidrs": ["10.0.0.0/33"]},
        {"allowed_cidrs": ["not-a-network"]},
        {"allowed_cidrs": "10.0.0.0/8"},
        {"session_lifetime_minutes": -5},
        {"idle_timeout_minutes": 0},
        {"min_password_length": 3},
        {"api_key_max_age_days": "soon"},
        {"require_mfa": "perhaps"},
    ],
)
def test_bad_policies_are_400(alice_api, workspace, body):
    assert_error(alice_api.patch(_url(workspace), body, format="json"), 400, "validation_error")


def test_required_mfa_leaves_members_only_enrolment(
    alice_api, client_for, make_user, add_member, workspace
):
    member = make_user("bob")
    add_member(workspace, member, Role.EDITOR)
    alice_api.patch(_url(workspace), {"require_mfa": True}, format="json")
    bob = client_for(member)
    assert_error(bob.get("/api/v3/workflows/"), 403, "mfa_enrollment_required")
    assert bob.get("/api/v3/auth/me").status_code == 200
    assert bob.post("/api/v3/security/mfa/totp").status_code == 201


def test_session_lifetime_and_idle_timeout(alice_api, login, bearer, workspace, user):
    alice_api.patch(
        _url(workspace),
        {"session_lifetime_minutes": 60, "idle_timeout_minutes": 10},
        format="json",
    )
    tokens = login().json()
    session = LoginSession.objects.get(pk=tokens["session_id"])
    assert session.expires_at - session.created_at == timedelta(minutes=60)

    from django.core.cache import cache

    from accounts import sessions

    LoginSession.objects.filter(pk=session.pk).update(
        last_seen_at=timezone.now() - timedelta(minutes=11)
    )
    cache.delete(sessions._state_key(session.pk))
    assert_error(bearer(tokens["access"]).get("/api/v3/auth/me"), 401, "session_revoked")
    assert LoginSession.objects.get(pk=session.pk).revoked_reason == "idle_timeout"


def test_outside_the_allowed_ranges_the_workspace_is_not_there(alice_api, client_for, workspace):
    alice_api.patch(_url(workspace), {"allowed_cidrs": ["10.0.0.0/8"]}, format="json")
    inside = client_for(workspace.created_by)
    inside.defaults["REMOTE_ADDR"] = "10.20.30.40"
    outside = client_for(workspace.created_by)
    outside.defaults["REMOTE_ADDR"] = "192.0.2.1"
    assert inside.get(f"/api/v3/workspaces/{workspace.pk}/").status_code == 200
    assert_error(outside.get(f"/api/v3/workspaces/{workspace.pk}/"), 404)
    listed = outside.get("/api/v3/workspaces/").json()["results"]
    assert workspace.pk not in [w["id"] for w in listed]
    # ...including its policy: it cannot be undone from outside.
    assert_error(outside.patch(_url(workspace), {"allowed_cidrs": []}, format="json"), 404)


def test_api_keys_older_than_the_policy_allows_are_refused(api, alice_api, workspace, user):
    key, secret = ApiKey.objects.create_key(
        name="ci", workspace=workspace, created_by=user, scopes=["read"]
    )
    ApiKey.objects.filter(pk=key.pk).update(created=timezone.now() - timedelta(days=10))
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert api.get("/api/v3/workspaces/").status_code == 200
    alice_api.patch(_url(workspace), {"api_key_max_age_days": 5}, format="json")
    assert_error(api.get("/api/v3/workspaces/"), 401, "expired_api_key")
