"""The "workspace" topic: `join_workspace` gets the workspace and its members, then every event
published to `workspace.<id>`: all of its runs, steps, documents and background tasks, for a
dashboard of the whole workspace. Members only (any role); another workspace is NotFound.

Registered by realtime itself (it needs only accounts); the workflows app registers "workflow"
and "run" the same way.
"""

from accounts.models import Membership, Role, Workspace
from accounts.scoping import Actor, require_role
from realtime import groups, topics


def workspace_snapshot(actor: Actor, workspace_id: int) -> dict:
    require_role(actor, workspace_id, Role.VIEWER)  # NotFound for non-members
    workspace = Workspace.objects.get(pk=workspace_id)
    members = Membership.objects.filter(workspace=workspace).select_related("user")
    return {
        "workspace": {"id": workspace.pk, "name": workspace.name},
        "members": [
            {"user_id": m.user_id, "username": m.user.username, "role": m.role} for m in members
        ],
    }


def register() -> None:
    topics.register_topic(
        "workspace",
        group=groups.workspace_group,
        snapshot=workspace_snapshot,
        workspace_of=lambda workspace_id: workspace_id,
    )
