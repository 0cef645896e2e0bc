"""Workspace lifecycle: rename, delete (owners, by name, runs cancelled first), leave and
ownership transfer; the personal workspace can be neither deleted nor left."""

import pytest

from accounts import services
from accounts.models import Membership, Role, Workspace
from accounts.scoping import Actor
from audit.models import AuditLogEntry, SecurityEvent
from config.testing import assert_error
from workflows.models import Run, RunStatus
from workflows.tests.factories import make_run, make_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(user, other_user, add_member):
    team = services.create_workspace(creator=user, name="Team")
    add_member(team, other_user, Role.ADMIN)
    return team


def url(workspace, tail=""):
    return f"/api/v3/workspaces/{workspace.pk}/{tail}"


def test_an_owner_transfers_ownership_and_leaves(alice_api, client_for, team, user, other_user):
    response = alice_api.post(url(team, "transfer-ownership"), {"user": other_user.pk})
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "owner"
    roles = dict(Membership.objects.filter(workspace=team).values_list("user_id", "role"))
    assert roles == {user.pk: Role.ADMIN, other_user.pk: Role.OWNER}
    event = SecurityEvent.objects.get(kind="workspace.ownership_transferred")
    assert event.details["to_user_id"] == other_user.pk

    assert alice_api.post(url(team, "leave")).status_code == 204
    assert not Membership.objects.filter(workspace=team, user=user).exists()
    assert_error(alice_api.get(url(team)), 404)
    # The new owner, alone, cannot leave: someone must own it.
    assert_error(client_for(other_user).post(url(team, "leave")), 409, "last_owner")


def test_transferring_ownership_to_a_non_member_or_by_an_admin_is_refused(
    alice_api, client_for, team, other_user, make_user, workspace
):
    outsider = make_user("olga")
    assert_error(
        alice_api.post(url(team, "transfer-ownership"), {"user": outsider.pk}), 400, "not_a_member"
    )
    assert_error(
        client_for(other_user).post(url(team, "transfer-ownership"), {"user": other_user.pk}),
        403,
        "insufficient_role",
    )
    assert_error(alice_api.post(url(team, "transfer-ownership"), {"user": "x"}), 400)
    mine = alice_api.post(url(workspace, "transfer-ownership"), {"user": other_user.pk})
    assert_error(mine, 409, "personal_workspace")


def test_the_personal_workspace_cannot_be_deleted_or_left(alice_api, workspace):
    assert_error(alice_api.post(url(workspace, "leave")), 409, "personal_workspace")
    deleted = alice_api.delete(url(workspace), {"confirm": workspace.name})
    assert_error(deleted, 409, "personal_workspace")
    assert Workspace.objects.filter(pk=workspace.pk).exists()


def test_deleting_a_workspace_you_only_administer_is_refused(client_for, team, other_user):
    response = client_for(other_user).delete(url(team), {"confirm": "Team"})
    assert_error(response, 403, "insufficient_role")
    assert Workspace.objects.filter(pk=team.pk).exists()


def test_delete_needs_the_exact_name(alice_api, team):
    assert_error(alice_api.delete(url(team)), 400, "confirmation_mismatch")
    assert_error(alice_api.delete(url(team), {"confirm": "team"}), 400, "confirmation_mismatch")
    assert Workspace.objects.filter(pk=team.pk).exists()


def test_deleting_a_workspace_cancels_its_runs_first_and_removes_everything(
    alice_api, client_for, team, user, other_user
):
    from workflows.engine.inline import InlineDispatcher
    from workflows.services import start_run
    from workflows.tests.engine_support import chain

    workflow = make_workflow(user, team, chain(2))
    # Queued (the inline dispatcher's wake-ups wait for a commit this test never makes).
    running = start_run(
        actor=Actor(user), workflow=workflow, inputs={}, dispatcher=InlineDispatcher()
    )
    done = make_run(workflow, status=RunStatus.SUCCEEDED)
    response = alice_api.delete(f"{url(team)}?confirm=Team")
    assert response.status_code == 204, response.content
    assert not Workspace.objects.filter(pk=team.pk).exists()
    assert not Run.objects.filter(pk__in=[running.pk, done.pk]).exists()
    # The audit log outlives the workspace: the running run was cancelled before it went.
    cancelled = AuditLogEntry.objects.filter(
        object_pk=str(running.pk), additional_data__event="run.cancelled"
    )
    assert cancelled.count() == 1
    assert not AuditLogEntry.objects.filter(
        object_pk=str(done.pk), additional_data__event="run.cancelled"
    ).exists()
    event = SecurityEvent.objects.get(kind="workspace.deleted")
    assert event.details["name"] == "Team" and event.actor_id == user.pk
    assert_error(client_for(other_user).get(url(team)), 404)


def test_rename_is_recorded(alice_api, team, client_for, make_user, add_member):
    response = alice_api.patch(url(team), {"name": "Team B"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "Team B"
    event = SecurityEvent.objects.get(kind="workspace.renamed")
    assert event.details == {"name": "Team B", "old_name": "Team"}
    viewer = make_user("vic")
    add_member(team, viewer, Role.VIEWER)
    assert_error(client_for(viewer).patch(url(team), {"name": "X"}), 403, "insufficient_role")


def test_leaving_as_a_member(client_for, team, other_user):
    assert client_for(other_user).post(url(team, "leave")).status_code == 204
    assert not Membership.objects.filter(workspace=team, user=other_user).exists()
    assert_error(client_for(other_user).post(url(team, "leave")), 404)


def test_transfer_service_refuses_the_owner_themself(user, team):
    from config.errors import Conflict

    with pytest.raises(Conflict):
        services.transfer_ownership(actor=Actor(user), workspace=team, user_id=user.pk)
