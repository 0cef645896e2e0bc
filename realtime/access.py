"""The database reads a connection makes, each run off the event loop."""

from channels.db import database_sync_to_async

from accounts.models import Role
from accounts.scoping import Actor, memberships_for, role_in
from config.errors import NotFound
from realtime import topics


@database_sync_to_async
def default_workspace_id(actor: Actor) -> int | None:
    """An API key's workspace, else the user's personal one, else their first."""
    if actor.api_key is not None:
        return actor.api_key.workspace_id
    memberships = memberships_for(actor)
    personal = memberships.filter(workspace__is_personal=True, role=Role.OWNER).first()
    chosen = personal or memberships.order_by("workspace_id").first()
    return chosen.workspace_id if chosen else None


@database_sync_to_async
def require_member(actor: Actor, workspace_id: int) -> None:
    if role_in(actor, workspace_id) is None:
        raise NotFound("No such workspace.", details={"workspace_id": workspace_id})


@database_sync_to_async
def snapshot(topic: topics.Topic, actor: Actor, object_id: int) -> tuple[dict, int | None]:
    """The topic's snapshot for the actor, and the workspace its object belongs to."""
    return topic.snapshot(actor, object_id), topic.workspace_of(object_id)
