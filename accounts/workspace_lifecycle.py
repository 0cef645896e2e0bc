"""A workspace's life after creation: rename, delete, leave, transfer ownership.

Deleting a workspace deletes everything in it (its members, API keys, invitations, settings
and policy; the other apps' rows cascade: workflows, runs, documents, schedules, budgets, AI
usage, tasks, notifications, analytics reports). Its security events are kept (they name the
workspace by id only). Runs in progress are cancelled first (`workspace_hooks`), so workers
stop and listeners hear `run.cancelled` before the rows go.
"""

from django.db import transaction

from accounts import workspace_hooks
from accounts.errors import ConfirmationMismatch, NotAMember, PersonalWorkspace
from accounts.models import Membership, Role, User, Workspace
from accounts.scoping import Actor, require_role
from audit.events import SecurityEventKind
from audit.services import record_security_event
from config.errors import Conflict


@transaction.atomic
def rename_workspace(*, actor: Actor, workspace: Workspace, name: str) -> Workspace:
    require_role(actor, workspace, Role.ADMIN)
    old_name = workspace.name
    workspace.name = name
    workspace.save(update_fields=["name", "updated_at"])
    if old_name != name:
        record_security_event(
            SecurityEventKind.WORKSPACE_RENAMED,
            actor=actor.user,
            workspace=workspace,
            details={"name": name, "old_name": old_name},
        )
    return workspace


def delete_workspace(*, actor: Actor, workspace: Workspace, confirm: str | None) -> None:
    """An owner deletes a shared workspace, typing its name in `confirm`."""
    require_role(actor, workspace, Role.OWNER)
    if workspace.is_personal:
        raise PersonalWorkspace()
    if (confirm or "").strip() != workspace.name.strip():
        raise ConfirmationMismatch(details={"confirm": ["does not match the workspace's name"]})
    stop_work(workspace)
    with transaction.atomic():
        delete_rows(workspace, actor_user=actor.user)


def stop_work(workspace: Workspace) -> None:
    """Cancel the workspace's work in progress (each cancel its own transaction: kept)."""
    workspace_hooks.before_delete(workspace.pk)


def delete_rows(workspace: Workspace, *, actor_user: User | None) -> None:
    """Delete the workspace and, by cascade, everything in it; inside the caller's
    transaction."""
    record_security_event(
        SecurityEventKind.WORKSPACE_DELETED,
        actor=actor_user,
        workspace=workspace.pk,
        details={"name": workspace.name, "slug": workspace.slug, "personal": workspace.is_personal},
    )
    workspace.delete()


@transaction.atomic
def leave_workspace(*, actor: Actor, workspace: Workspace) -> None:
    """The caller leaves; not their personal workspace, and not as its last owner."""
    require_role(actor, workspace, Role.VIEWER)
    if workspace.is_personal:
        raise PersonalWorkspace()
    from accounts.services import remove_member  # noqa: PLC0415 - services re-exports us

    membership = Membership.objects.select_related("user").get(workspace=workspace, user=actor.user)
    remove_member(actor=actor, membership=membership)


@transaction.atomic
def transfer_ownership(*, actor: Actor, workspace: Workspace, user_id: int) -> Membership:
    """An owner hands the workspace to another member, who becomes an owner; the caller
    becomes an admin."""
    require_role(actor, workspace, Role.OWNER)
    if workspace.is_personal:
        raise PersonalWorkspace()
    mine = Membership.objects.select_for_update().get(workspace=workspace, user=actor.user)
    theirs = (
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(workspace=workspace, user_id=user_id)
        .first()
    )
    if theirs is None:
        raise NotAMember(details={"user": user_id})
    if theirs.pk == mine.pk:
        raise Conflict("You already own this workspace; name another member.", code="already_owner")
    old_role = theirs.role
    theirs.role = Role.OWNER
    theirs.save(update_fields=["role"])
    mine.role = Role.ADMIN
    mine.save(update_fields=["role"])
    record_security_event(
        SecurityEventKind.WORKSPACE_OWNERSHIP_TRANSFERRED,
        actor=actor.user,
        workspace=workspace,
        details={
            "to_user_id": theirs.user_id,
            "to": theirs.user.get_username(),
            "their_old_role": old_role,
            "from_user_id": actor.user.pk,
        },
    )
    return theirs


def shared_workspaces_owned_alone(user: User) -> list[Workspace]:
    """The shared workspaces where `user` is the only owner."""
    owned = Workspace.objects.filter(
        is_personal=False, memberships__user=user, memberships__role=Role.OWNER
    )
    return [
        workspace
        for workspace in owned.order_by("id")
        if not workspace.memberships.filter(role=Role.OWNER).exclude(user=user).exists()
    ]
