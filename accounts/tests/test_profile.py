"""`/api/v3/auth/me`: profile changes, email change confirmed from the new address, account
deletion, and a user's export of their own data."""

import re
import time

import pytest

from accounts import services
from accounts.models import User, Workspace
from accounts.scoping import Actor
from audit.models import SecurityEvent
from config.testing import assert_error
from conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db
ME = "/api/v3/auth/me"


def test_patch_me_changes_the_profile_and_records_it(alice_api, user):
    response = alice_api.patch(
        ME,
        {"display_name": "Alice A.", "time_zone": "Europe/Madrid", "locale": "es"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["display_name"], body["time_zone"], body["locale"]) == (
        "Alice A.",
        "Europe/Madrid",
        "es",
    )
    user.refresh_from_db()
    assert user.time_zone == "Europe/Madrid"
    event = SecurityEvent.objects.get(kind="account.updated")
    assert event.actor_id == user.pk
    assert event.details["fields"] == ["display_name", "locale", "time_zone"]


def test_patch_me_reports_bad_fields_one_by_one(alice_api):
    response = alice_api.patch(ME, {"time_zone": "Mars/Olympus", "locale": "xx"}, format="json")
    error = assert_error(response, 400, "validation_error")
    assert set(error["details"]) == {"time_zone", "locale"}
    assert_error(alice_api.patch(ME, {"is_staff": True}, format="json"), 400)
    assert_error(alice_api.patch(ME, {"display_name": ["x"]}, format="json"), 400)


def _token_from(message) -> str:
    return re.search(r'"token": "([^"]+)"', message.body).group(1)


def test_email_change_is_confirmed_from_the_new_address_and_the_old_one_is_told(
    alice_api, api, user, mails
):
    with mails() as outbox:
        response = alice_api.post(
            f"{ME}/email",
            {"email": "alice@new.example", "password": STRONG_PASSWORD},
            format="json",
        )
    assert response.status_code == 202, response.content
    to_new, to_old = sorted(outbox, key=lambda m: m.to[0] != "alice@new.example")
    assert to_new.to == ["alice@new.example"] and to_old.to == ["alice@example.com"]
    assert "alice@new.example" in to_old.body
    user.refresh_from_db()
    assert user.email == "alice@example.com"  # not until confirmed

    token = _token_from(to_new)
    confirmed = api.post(f"{ME}/email/confirm", {"token": token}, format="json")
    assert confirmed.status_code == 200, confirmed.content
    user.refresh_from_db()
    assert user.email == "alice@new.example"
    assert SecurityEvent.objects.filter(kind="account.email_changed", actor=user).exists()

    # Single use: the link names the old address, which is gone.
    again = api.post(f"{ME}/email/confirm", {"token": token}, format="json")
    assert_error(again, 400, "invalid_email_change_token")
    assert_error(
        api.post(f"{ME}/email/confirm", {"token": "garbage"}, format="json"),
        400,
        "invalid_email_change_token",
    )


def test_email_change_refuses_an_address_in_use_and_a_wrong_password(alice_api, other_user):
    taken = alice_api.post(
        f"{ME}/email", {"email": "MALLORY@example.com", "password": STRONG_PASSWORD}, format="json"
    )
    error = assert_error(taken, 409, "email_in_use")
    assert error["details"] == {"email": "MALLORY@example.com"}
    wrong = alice_api.post(
        f"{ME}/email", {"email": "a@new.example", "password": "wrong"}, format="json"
    )
    assert_error(wrong, 400, "invalid_password")
    assert_error(alice_api.post(f"{ME}/email", {"email": "nope"}, format="json"), 400)


def test_email_taken_between_request_and_confirmation_is_refused(alice_api, api, user, mails):
    with mails() as outbox:
        alice_api.post(
            f"{ME}/email", {"email": "late@example.com", "password": STRONG_PASSWORD}, format="json"
        )
    User.objects.filter(username="mallory").delete()
    services.register_user(username="bob", password=STRONG_PASSWORD, email="late@example.com")
    token = _token_from(outbox[0] if outbox[0].to == ["late@example.com"] else outbox[1])
    response = api.post(f"{ME}/email/confirm", {"token": token}, format="json")
    assert_error(response, 409, "email_in_use")


def test_a_deleted_account_cannot_log_in_and_its_personal_workspace_is_gone(
    api, user, workspace, tokens_for, bearer, login
):
    tokens = tokens_for()
    client = bearer(tokens["access"])
    assert_error(client.delete(ME, {"password": "wrong"}, format="json"), 400, "invalid_password")

    response = client.delete(ME, {"password": STRONG_PASSWORD}, format="json")
    assert response.status_code == 204, response.content
    assert not User.objects.filter(username="alice").exists()
    assert not Workspace.objects.filter(pk=workspace.pk).exists()
    assert_error(login("alice"), 401, "invalid_credentials")
    assert_error(client.get(ME), 401)  # its token is dead
    event = SecurityEvent.objects.get(kind="account.deleted")
    assert event.details["username"] == "alice"


def test_deleting_an_account_is_refused_while_last_owner_of_a_shared_workspace(
    alice_api, user, other_user, add_member
):
    team = services.create_workspace(creator=user, name="Team Rocket")
    add_member(team, other_user)
    response = alice_api.delete(ME, {"password": STRONG_PASSWORD}, format="json")
    error = assert_error(response, 409, "last_owner_of_shared_workspaces")
    assert "Team Rocket" in error["message"]
    assert error["details"]["workspaces"] == [{"id": team.pk, "name": "Team Rocket"}]
    assert User.objects.filter(pk=user.pk).exists()

    # Once someone else owns it too, the account can go; the workspace stays.
    services.transfer_ownership(actor=Actor(user), workspace=team, user_id=other_user.pk)
    assert alice_api.delete(ME, {"password": STRONG_PASSWORD}, format="json").status_code == 204
    assert Workspace.objects.filter(pk=team.pk).exists()


def test_deleting_an_account_with_mfa_needs_a_current_code(alice_api, user, enrol_mfa):
    totp, _codes = enrol_mfa(user)
    response = alice_api.delete(ME, {"password": STRONG_PASSWORD}, format="json")
    assert_error(response, 400, "mfa_code_required")
    wrong = alice_api.delete(ME, {"password": STRONG_PASSWORD, "code": "000000"}, format="json")
    assert_error(wrong, 400, "invalid_mfa_code")
    ok = alice_api.delete(
        ME, {"password": STRONG_PASSWORD, "code": totp.at(time.time() + 30)}, format="json"
    )
    assert ok.status_code == 204, ok.content
    assert not User.objects.filter(pk=user.pk).exists()


def test_export_of_my_own_data(alice_api, user, tokens_for):
    tokens_for()  # a login: a session and a security event
    response = alice_api.post(f"{ME}/export")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["profile"]["username"] == "alice"
    assert [m["role"] for m in data["memberships"]] == ["owner"]
    assert len(data["sessions"]) == 1
    assert "auth.login_succeeded" in {e["kind"] for e in data["security_events"]}
    assert SecurityEvent.objects.filter(kind="account.exported", actor=user).exists()


def test_an_api_key_cannot_change_delete_or_export_the_account(user, workspace):
    from rest_framework.test import APIClient

    _key, secret = services.create_api_key(
        actor=Actor(user), workspace=workspace, name="k", scopes=["read", "write"]
    )
    keyed = APIClient()
    keyed.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert keyed.get(ME).status_code == 200
    assert_error(keyed.patch(ME, {"display_name": "x"}, format="json"), 403, "api_key_refused")
    refused = keyed.delete(ME, {"password": STRONG_PASSWORD}, format="json")
    assert_error(refused, 403, "api_key_refused")
    assert_error(keyed.post(f"{ME}/export"), 403, "api_key_refused")
    assert User.objects.filter(pk=user.pk).exists()
