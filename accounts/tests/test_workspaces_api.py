import pytest

from accounts.models import Membership, Role
from config.testing import assert_error

pytestmark = pytest.mark.django_db


def test_list_is_paginated_and_scoped(alice_api, workspace, other_workspace):
    body = alice_api.get("/api/v3/workspaces/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1
    assert body["results"][0]["id"] == workspace.id
    assert body["results"][0]["role"] == "owner"


def test_other_workspace_is_404(alice_api, other_workspace):
    assert_error(alice_api.get(f"/api/v3/workspaces/{other_workspace.id}/"), 404, "not_found")
    assert_error(alice_api.patch(f"/api/v3/workspaces/{other_workspace.id}/", {"name": "x"}), 404)
    assert_error(alice_api.get(f"/api/v3/workspaces/{other_workspace.id}/members/"), 404)


def test_create_and_rename(alice_api):
    created = alice_api.post("/api/v3/workspaces/", {"name": "Marketing"})
    assert created.status_code == 201
    ws = created.json()
    assert ws["role"] == "owner" and not ws["is_personal"]
    renamed = alice_api.patch(f"/api/v3/workspaces/{ws['id']}/", {"name": "Growth"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Growth"
    assert_error(alice_api.post("/api/v3/workspaces/", {"name": ""}), 400, "validation_error")


def test_only_admins_rename(client_for, other_user, workspace, add_member):
    add_member(workspace, other_user, Role.EDITOR)
    response = client_for(other_user).patch(f"/api/v3/workspaces/{workspace.id}/", {"name": "x"})
    assert_error(response, 403, "insufficient_role")


def test_add_change_remove_members(alice_api, workspace, make_user):
    bob = make_user("bob", email="bob@example.com")
    url = f"/api/v3/workspaces/{workspace.id}/members/"
    added = alice_api.post(url, {"user": "BOB@example.com", "role": "editor"})
    assert added.status_code == 201, added.content
    assert added.json()["username"] == "bob" and added.json()["role"] == "editor"
    assert_error(alice_api.post(url, {"user": "bob"}), 409, "already_member")
    assert_error(alice_api.post(url, {"user": "nobody"}), 400, "unknown_user")
    assert_error(alice_api.post(url, {"user": "bob", "role": "god"}), 400, "validation_error")

    changed = alice_api.patch(f"{url}{bob.id}/", {"role": "admin"})
    assert changed.status_code == 200 and changed.json()["role"] == "admin"
    assert alice_api.get(url).json()["count"] == 2

    assert alice_api.delete(f"{url}{bob.id}/").status_code == 204
    assert not Membership.objects.filter(workspace=workspace, user=bob).exists()


def test_non_admins_cannot_manage_members(client_for, workspace, make_user, add_member):
    carol = make_user("carol")
    dave = make_user("dave")
    add_member(workspace, carol, Role.EDITOR)
    url = f"/api/v3/workspaces/{workspace.id}/members/"
    assert_error(client_for(carol).post(url, {"user": "dave"}), 403, "insufficient_role")
    # but carol can see the members, and can leave on her own
    assert client_for(carol).get(url).json()["count"] == 2
    assert client_for(carol).delete(f"{url}{carol.id}/").status_code == 204
    assert dave.memberships.count() == 1


def test_admin_cannot_make_owners(client_for, workspace, make_user, add_member):
    admin = make_user("adm")
    add_member(workspace, admin, Role.ADMIN)
    url = f"/api/v3/workspaces/{workspace.id}/members/"
    make_user("erin")
    response = client_for(admin).post(url, {"user": "erin", "role": "owner"})
    assert_error(response, 403, "insufficient_role")


def test_last_owner_cannot_leave_or_be_demoted(alice_api, user, workspace):
    url = f"/api/v3/workspaces/{workspace.id}/members/{user.id}/"
    assert_error(alice_api.delete(url), 409, "last_owner")
    assert_error(alice_api.patch(url, {"role": "viewer"}), 409, "last_owner")
    assert Membership.objects.get(user=user, workspace=workspace).role == Role.OWNER


def test_second_owner_lets_first_leave(alice_api, user, workspace, make_user, add_member):
    frank = make_user("frank")
    add_member(workspace, frank, Role.OWNER)
    assert (
        alice_api.delete(f"/api/v3/workspaces/{workspace.id}/members/{user.id}/").status_code == 204
    )
