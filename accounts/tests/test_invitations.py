"""Invitations: owners and admins invite by email; the signed link works once, until it
expires, for the invited address only; a new user makes their account and joins in one step."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from accounts import services
from accounts.models import Invitation, Membership, Role
from accounts.scoping import Actor
from audit.models import SecurityEvent
from config.testing import assert_error
from conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db
ACCEPT = "/api/v3/invitations/accept"


@pytest.fixture
def team(user):
    return services.create_workspace(creator=user, name="Team")


def invitations(team) -> str:
    return f"/api/v3/workspaces/{team.pk}/invitations"


def invite(client, team, email="new@example.com", role=Role.EDITOR):
    return client.post(invitations(team), {"email": email, "role": role}, format="json")


def token_in(text: str) -> str:
    url = re.search(r"https?://\S+/api/v3/invitations/accept\?\S+", text).group(0)
    return parse_qs(urlparse(url).query)["token"][0]


@pytest.fixture
def invited(alice_api, team, mails):
    """Invite an address; returns (invitation, token read from the mail)."""

    def make(email="new@example.com", role=Role.EDITOR):
        with mails() as outbox:
            response = invite(alice_api, team, email, role)
        assert response.status_code == 201, response.content
        (message,) = outbox
        assert message.to == [email]
        return Invitation.objects.get(pk=response.json()["id"]), token_in(message.body)

    return make


def test_a_new_user_invited_by_email_joins_with_the_invited_role(
    alice_api, api, team, smtp, django_capture_on_commit_callbacks, bearer
):
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(alice_api, team, "newcomer@example.com", Role.EDITOR)
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "pending" and "token" not in response.json()

    (mail,) = smtp.mails
    assert mail["to"] == ["newcomer@example.com"]
    token = token_in(mail["message"].get_content())

    preview = api.get(ACCEPT, {"token": token})
    assert preview.status_code == 200, preview.content
    assert preview.json()["workspace_name"] == "Team" and preview.json()["role"] == "editor"

    joined = api.post(
        ACCEPT,
        {"token": token, "username": "newcomer", "password": STRONG_PASSWORD},
        format="json",
    )
    assert joined.status_code == 201, joined.content
    body = joined.json()
    assert (body["workspace"], body["role"]) == (team.pk, "editor")
    assert body["user"]["email"] == "newcomer@example.com"
    membership = Membership.objects.get(workspace=team, user__username="newcomer")
    assert membership.role == Role.EDITOR
    # The tokens returned work, and the new member sees the workspace.
    workspaces = bearer(body["access"]).get("/api/v3/workspaces/").json()["results"]
    assert team.pk in {w["id"] for w in workspaces}
    assert SecurityEvent.objects.filter(kind="invitation.accepted", workspace=team).exists()


def test_an_existing_user_accepts_while_signed_in(invited, client_for, make_user, team):
    bob = make_user("bob")
    invitation, token = invited("bob@example.com", Role.VIEWER)
    response = client_for(bob).post(ACCEPT, {"token": token}, format="json")
    assert response.status_code == 200, response.content
    assert Membership.objects.get(workspace=team, user=bob).role == Role.VIEWER
    invitation.refresh_from_db()
    assert invitation.accepted_by == bob and invitation.status == "accepted"


def test_a_reused_invitation_is_refused(invited, client_for, make_user, api):
    bob = make_user("bob")
    _, token = invited("bob@example.com")
    assert client_for(bob).post(ACCEPT, {"token": token}, format="json").status_code == 200
    again = client_for(bob).post(ACCEPT, {"token": token}, format="json")
    assert_error(again, 409, "invitation_used")
    signup = api.post(
        ACCEPT, {"token": token, "username": "bob2", "password": STRONG_PASSWORD}, format="json"
    )
    assert_error(signup, 409, "invitation_used")


def test_an_expired_invitation_is_refused(invited, api):
    invitation, token = invited()
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = api.post(
        ACCEPT, {"token": token, "username": "late", "password": STRONG_PASSWORD}, format="json"
    )
    assert_error(response, 410, "invitation_expired")
    assert_error(api.get(ACCEPT, {"token": token}), 410, "invitation_expired")


def test_a_foreign_invitation_is_refused(invited, client_for, other_user, team):
    _, token = invited("someone-else@example.com")
    response = client_for(other_user).post(ACCEPT, {"token": token}, format="json")
    assert_error(response, 403, "invitation_not_yours")
    assert not Membership.objects.filter(workspace=team, user=other_user).exists()


def test_bad_and_tampered_tokens_are_refused(invited, api):
    _, token = invited()
    for bad in ("garbage", token[:-2] + "xx"):
        assert_error(api.post(ACCEPT, {"token": bad}, format="json"), 400, "invitation_invalid")
    assert_error(api.post(ACCEPT, {"token": token}, format="json"), 401, "not_authenticated")
    half = api.post(ACCEPT, {"token": token, "username": "x"}, format="json")
    assert_error(half, 400)
    assert_error(api.post(ACCEPT, {}, format="json"), 400)


def test_signup_with_an_email_already_in_use_is_refused(invited, api, other_user):
    _, token = invited("mallory@example.com")  # mallory's account has this address
    response = api.post(
        ACCEPT, {"token": token, "username": "mal2", "password": STRONG_PASSWORD}, format="json"
    )
    error = assert_error(response, 409, "email_in_use")
    assert error["details"] == {"email": "mallory@example.com"}


def test_signup_with_a_taken_username_or_weak_password_is_refused(invited, api, user):
    _, token = invited()
    taken = api.post(
        ACCEPT, {"token": token, "username": "ALICE", "password": STRONG_PASSWORD}, format="json"
    )
    assert "username" in assert_error(taken, 400)["details"]
    weak = api.post(
        ACCEPT, {"token": token, "username": "newbie", "password": "123"}, format="json"
    )
    assert "password" in assert_error(weak, 400)["details"]


def test_inviting_an_existing_member_is_refused(alice_api, team, other_user, add_member):
    add_member(team, other_user)
    response = invite(alice_api, team, "Mallory@Example.com")
    assert_error(response, 409, "already_member")


def test_who_may_invite(client_for, alice_api, team, make_user, add_member, other_user):
    viewer, admin = make_user("vic"), make_user("ada")
    add_member(team, viewer, Role.VIEWER)
    add_member(team, admin, Role.ADMIN)
    assert_error(invite(client_for(viewer), team), 403, "insufficient_role")
    assert_error(client_for(viewer).get(invitations(team)), 403, "insufficient_role")
    assert_error(invite(client_for(admin), team, role=Role.OWNER), 403, "insufficient_role")
    assert invite(client_for(admin), team, role=Role.ADMIN).status_code == 201
    assert_error(invite(client_for(other_user), team), 404)  # not a member: no such workspace
    assert_error(invite(alice_api, team, "not-an-email"), 400)
    assert_error(invite(alice_api, team, role="emperor"), 400)


def test_pending_list_paginated_and_revoke(alice_api, invited, team, api, client_for, other_user):
    first, first_token = invited("one@example.com")
    invited("two@example.com")
    listed = alice_api.get(invitations(team))
    assert listed.status_code == 200
    assert {row["email"] for row in listed.json()["results"]} == {
        "one@example.com",
        "two@example.com",
    }
    assert listed.json()["count"] == 2

    revoked = alice_api.delete(f"{invitations(team)}/{first.pk}")
    assert revoked.status_code == 204
    pending = alice_api.get(invitations(team)).json()["results"]
    assert [row["email"] for row in pending] == ["two@example.com"]
    gone = alice_api.get(invitations(team), {"status": "revoked"}).json()["results"]
    assert [row["email"] for row in gone] == ["one@example.com"]
    assert_error(alice_api.get(invitations(team), {"status": "bogus"}), 400)
    response = api.post(
        ACCEPT,
        {"token": first_token, "username": "one", "password": STRONG_PASSWORD},
        format="json",
    )
    assert_error(response, 409, "invitation_revoked")
    assert SecurityEvent.objects.filter(kind="invitation.revoked").exists()
    # Another workspace's invitation through this workspace's path: 404.
    theirs = services.personal_workspace(other_user)
    assert_error(client_for(other_user).delete(f"{invitations(theirs)}/{first.pk}"), 404)


def test_inviting_again_replaces_the_pending_invitation(invited, api):
    first, first_token = invited("again@example.com")
    second, second_token = invited("again@example.com")
    first.refresh_from_db()
    assert first.status == "revoked" and second.status == "pending"
    assert_error(api.get(ACCEPT, {"token": first_token}), 409, "invitation_revoked")
    assert api.get(ACCEPT, {"token": second_token}).status_code == 200


def test_invitations_are_rate_limited(alice_api, team, settings):
    settings.INVITATION_RATE = "2/m"
    for number in range(2):
        assert invite(alice_api, team, f"r{number}@example.com").status_code == 201
    assert_error(invite(alice_api, team, "r9@example.com"), 429, "rate_limited")


def test_the_admin_shows_invitations(client, team, user, make_user):
    services.create_invitation(
        actor=Actor(user), workspace=team, email="shown@example.com", role=Role.EDITOR
    )
    root = make_user("root")
    root.is_staff = root.is_superuser = True
    root.save()
    client.force_login(root)
    listing = client.get("/admin/accounts/invitation/")
    assert listing.status_code == 200
    assert b"shown@example.com" in listing.content
    workspace_page = client.get(f"/admin/accounts/workspace/{team.pk}/change/")
    assert b"shown@example.com" in workspace_page.content


def test_trying_tokens_is_rate_limited_per_ip(api, settings):
    settings.TOKEN_CONFIRM_RATE = "1/m"
    answers = [api.post(ACCEPT, {"token": "guess"}, format="json") for _ in range(2)]
    assert_error(answers[-1], 429, "rate_limited")
