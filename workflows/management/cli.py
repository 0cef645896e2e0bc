"""What the workflow management commands share: who they act as, and where."""

from django.core.management.base import CommandError

from accounts.models import Membership, User, Workspace
from accounts.scoping import Actor

DEFAULT_USER = "admin"


def add_actor_arguments(parser) -> None:
    parser.add_argument(
        "--user", default=DEFAULT_USER, help=f"Act as this username (default: {DEFAULT_USER})."
    )
    parser.add_argument(
        "--workspace",
        help="Workspace id or slug (default: the user's first workspace, personal first).",
    )


def resolve_actor(username: str, workspace: str | None) -> tuple[Actor, Workspace]:
    user = User.objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No user '{username}' (run bootstrap_demo, or pass --user).")
    memberships = Membership.objects.filter(user=user).select_related("workspace")
    if workspace:
        lookup = (
            {"workspace_id": int(workspace)}
            if workspace.isdigit()
            else {"workspace__slug": workspace}
        )
        membership = memberships.filter(**lookup).first()
        if membership is None:
            raise CommandError(f"'{username}' is not a member of a workspace '{workspace}'.")
    else:
        membership = memberships.order_by("-workspace__is_personal", "workspace_id").first()
        if membership is None:
            raise CommandError(f"'{username}' has no workspace.")
    return Actor(user), membership.workspace
