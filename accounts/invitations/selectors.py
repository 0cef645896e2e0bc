from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Invitation, Role, Workspace
from accounts.scoping import Actor, require_role

STATUSES = ("pending", "accepted", "revoked", "expired", "all")


def invitations_of(
    *, actor: Actor, workspace: Workspace, status: str = "pending"
) -> QuerySet[Invitation]:
    """A workspace's invitations, for its owners and admins (members: 403; others: 404)."""
    require_role(actor, workspace, Role.ADMIN)
    rows = Invitation.objects.filter(workspace=workspace).select_related("invited_by")
    now = timezone.now()
    open_ = Q(accepted_at__isnull=True, revoked_at__isnull=True)
    if status == "pending":
        rows = rows.filter(open_, expires_at__gt=now)
    elif status == "accepted":
        rows = rows.filter(accepted_at__isnull=False)
    elif status == "revoked":
        rows = rows.filter(accepted_at__isnull=True, revoked_at__isnull=False)
    elif status == "expired":
        rows = rows.filter(open_, expires_at__lte=now)
    return rows
