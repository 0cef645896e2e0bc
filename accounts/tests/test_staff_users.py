"""`/api/v3/users/`: staff user management. Non-staff get 404 on every path; each action is a
security event; a deactivated user cannot log in and their open WebSocket closes."""

import pytest
from asgiref.sync import sync_to_async
from axes.models import AccessAttempt
from django.utils import timezone

from accounts import mfa, services
from accounts.models import LoginSession
from audit.models import SecurityEvent
from config.testing import assert_error

USERS = "/api/v3/users/"


@pytest.fixture
def staff_api(client_for, staff_user):
    return client_for(staff_user)


@pytest.mark.django_db
def test_the_staff_api_is_404_to_non_staff_and_401_to_nobody(alice_api, api, other_user):
    for path in (USERS, f"{USERS}{other_user.pk}/"):
        assert_error(alice_api.get(path), 404, "not_found")
    assert_error(alice_api.post(f"{USERS}{other_user.pk}/deactivate/"), 404, "not_found")
    assert_error(api.get(USERS), 401)
    other_user.refresh_from_db()
    assert other_user.is_active


@pytest.mark.django_db
def test_staff_list_users_with_search_and_filters(staff_api, staff_user, user, other_user):
    services.update_profile(user=other_user, changes={"display_name": "Mallory the Tester"})
    response = staff_api.get(USERS, {"q": "tester"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert [row["username"] for row in body["results"]] == ["mallory"]
    assert body["count"] == 1
    services.deactivate_user(staff=staff_user, user=user)
    inactive = staff_api.get(USERS, {"is_active": "false"}).json()["results"]
    assert [row["username"] for row in inactive] == ["alice"]
    staff = staff_api.get(USERS, {"is_staff": "true"}).json()["results"]
    assert [row["username"] for row in staff] == ["root"]
    detail = staff_api.get(f"{USERS}{other_user.pk}/").json()
    assert detail["mfa_enabled"] is False and detail["memberships"][0]["role"] == "owner"
    assert_error(staff_api.get(f"{USERS}999999/"), 404)


@pytest.mark.django_db
def test_deactivate_ends_sessions_blocks_login_and_reactivate_restores(
    staff_api, staff_user, user, tokens_for, bearer, login
):
    tokens = tokens_for()
    response = staff_api.post(f"{USERS}{user.pk}/deactivate/")
    assert response.status_code == 200, response.content
    assert response.json()["user"]["is_active"] is False
    assert_error(bearer(tokens["access"]).get("/api/v3/auth/me"), 401)
    assert_error(login("alice"), 401, "invalid_credentials")
    assert not LoginSession.objects.filter(user=user, revoked_at__isnull=True).exists()
    event = SecurityEvent.objects.get(kind="user.deactivated")
    assert event.actor_id == staff_user.pk and event.details["user_id"] == user.pk

    assert staff_api.post(f"{USERS}{user.pk}/reactivate/").json()["user"]["is_active"] is True
    assert login("alice").status_code == 200
    assert SecurityEvent.objects.filter(kind="user.reactivated").exists()

    own = staff_api.post(f"{USERS}{staff_user.pk}/deactivate/")
    assert_error(own, 409, "own_account")


@pytest.mark.django_db
def test_unlock_reset_mfa_and_force_logout(staff_api, user, tokens_for, bearer, enrol_mfa):
    AccessAttempt.objects.create(
        username="alice",
        ip_address="192.0.2.1",
        user_agent="x",
        failures_since_start=9,
        attempt_time=timezone.now(),
    )
    unlocked = staff_api.post(f"{USERS}{user.pk}/unlock/")
    assert unlocked.json()["attempts_cleared"] == 1
    assert not AccessAttempt.objects.filter(username="alice").exists()

    enrol_mfa(user)
    reset = staff_api.post(f"{USERS}{user.pk}/reset-mfa/")
    assert reset.status_code == 200 and reset.json()["had_mfa"] is True
    assert not mfa.has_mfa(user)
    assert SecurityEvent.objects.get(kind="user.mfa_reset").details["username"] == "alice"

    first, second = tokens_for(), tokens_for()
    out = staff_api.post(f"{USERS}{user.pk}/logout-everywhere/")
    assert out.json()["sessions_ended"] == 2
    for tokens in (first, second):
        assert_error(bearer(tokens["access"]).get("/api/v3/auth/me"), 401)
    assert SecurityEvent.objects.filter(kind="user.logged_out_everywhere").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_deactivated_users_open_websocket_closes(user, other_user, staff_user):
    from realtime.tests.conftest import connected, request
    from realtime.tests.test_revocation import closed_for

    alice, mallory = await connected(user), await connected(other_user)
    await sync_to_async(services.deactivate_user)(staff=staff_user, user=other_user)
    await closed_for(mallory, "account_disabled")
    assert (await request(alice, {"type": "ping"}))["type"] == "pong"
    await alice.disconnect()


@pytest.mark.django_db
def test_the_admins_deactivate_action_uses_the_staff_service(client, make_user, user):
    root = make_user("root")
    root.is_staff = root.is_superuser = True
    root.save()
    client.force_login(root)
    response = client.post(
        "/admin/accounts/user/",
        {"action": "deactivate_users", "_selected_action": [user.pk, root.pk]},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    root.refresh_from_db()
    assert not user.is_active and root.is_active  # staff's own account is skipped
    assert SecurityEvent.objects.filter(kind="user.deactivated", actor=root).count() == 1
