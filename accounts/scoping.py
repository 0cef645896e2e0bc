"""The one place that decides which workspaces a caller can see and what they may do there.

Every app restricts its querysets with `scope_to_workspaces` and checks roles with
`require_role`; an object outside the caller's workspaces is reported as not found, never
as forbidden, so its existence is not confirmed.
"""

from dataclasses import dataclass

from django.db.models import QuerySet

from accounts import policies
from accounts.errors import InsufficientRole
from accounts.models import ROLE_RANK, ApiKey, Membership, Role, User, Workspace
from config.client_ip import client_ip
from config.errors import NotFound


@dataclass(frozen=True)
class Actor:
    """Who is calling: a user, and the API key they came in with, if any.

    A key narrows the user's reach to the key's workspace, and to viewer rights unless it has
    the `write` scope. `ip` is the client's address for a network request (HTTP, WebSocket):
    a workspace whose security policy allows other ranges only reads as not there. None (a
    worker, a command) applies no network rule.
    """

    user: User
    api_key: ApiKey | None = None
    ip: str | None = None

    @classmethod
    def from_request(cls, request) -> "Actor":
        auth = getattr(request, "auth", None)
        return cls(
            user=request.user,
            api_key=auth if isinstance(auth, ApiKey) else None,
            ip=client_ip(request),
        )


def roles_at_least(role: str) -> list[str]:
    return [r for r in Role.values if ROLE_RANK[r] >= ROLE_RANK[role]]


def _role_ceiling(actor: Actor) -> str:
    if actor.api_key is None:
        return Role.OWNER
    return Role.EDITOR if actor.api_key.can_write else Role.VIEWER


def memberships_for(actor: Actor, *, min_role: str = Role.VIEWER) -> QuerySet[Membership]:
    if not actor.user.is_authenticated:
        return Membership.objects.none()
    if ROLE_RANK[min_role] > ROLE_RANK[_role_ceiling(actor)]:
        return Membership.objects.none()
    memberships = Membership.objects.filter(user=actor.user, role__in=roles_at_least(min_role))
    if actor.api_key is not None:
        memberships = memberships.filter(workspace_id=actor.api_key.workspace_id)
    if actor.ip is not None:
        hidden = policies.hidden_workspace_ids(actor.user.pk, actor.ip)
        if hidden:
            memberships = memberships.exclude(workspace_id__in=hidden)
    return memberships


def workspaces_for(actor: Actor, *, min_role: str = Role.VIEWER) -> QuerySet[Workspace]:
    ids = memberships_for(actor, min_role=min_role).values("workspace_id")
    return Workspace.objects.filter(id__in=ids)


def scope_to_workspaces(
    queryset: QuerySet, actor: Actor, *, field: str = "workspace", min_role: str = Role.VIEWER
) -> QuerySet:
    """Restrict `queryset` to rows whose `field` (a path to a Workspace) the actor can reach."""
    ids = memberships_for(actor, min_role=min_role).values("workspace_id")
    return queryset.filter(**{f"{field}__in": ids})


def role_in(actor: Actor, workspace: Workspace | int) -> str | None:
    """The actor's effective role in a workspace (capped by an API key), or None."""
    workspace_id = workspace if isinstance(workspace, int) else workspace.pk
    membership = memberships_for(actor).filter(workspace_id=workspace_id).first()
    if membership is None:
        return None
    ceiling = _role_ceiling(actor)
    return min(membership.role, ceiling, key=ROLE_RANK.__getitem__)


def require_role(actor: Actor, workspace: Workspace | int, min_role: str) -> str:
    """Return the actor's role, or raise NotFound (not a member) / InsufficientRole."""
    role = role_in(actor, workspace)
    if role is None:
        raise NotFound()
    if ROLE_RANK[role] < ROLE_RANK[min_role]:
        raise InsufficientRole(
            f"This needs the {min_role} role or higher in the workspace; you have {role}.",
            details={"required_role": min_role, "your_role": role},
        )
    return role
