"""User activity per member: runs started and approvals (workflows), edits and logins (the
audit app's rows, the same source as /api/v3/security/activity, when it is installed).

Logins are about a person, not a workspace: a caller sees other members' logins only as an
admin or owner of every workspace in the window (or staff); otherwise only their own.
"""

from django.apps import apps
from django.conf import settings
from django.db.models import Count, Sum

from accounts.models import Membership, Role
from accounts.scoping import Actor, memberships_for
from analytics.selectors import runs_in
from analytics.window import Window
from workflows import selectors as wf_selectors
from workflows.models import StepKind

LOGIN_KIND = "auth.login_succeeded"


def _audit_installed() -> bool:
    return apps.is_installed("audit")


def logins_by_user(user_ids, window: Window) -> dict[int, int] | None:
    if not _audit_installed():
        return None
    SecurityEvent = apps.get_model("audit", "SecurityEvent")  # noqa: N806
    rows = (
        SecurityEvent.objects.filter(
            kind=LOGIN_KIND,
            user_id__in=list(user_ids),
            created_at__gte=window.since,
            created_at__lt=window.until,
        )
        .order_by()
        .values("user_id")
        .annotate(n=Sum("count"))
    )
    return {r["user_id"]: r["n"] for r in rows}


def edits_by_user(user_ids, window: Window) -> dict[int, int] | None:
    """Changes to the workspaces' objects recorded by django-auditlog, per actor."""
    if not _audit_installed():
        return None
    model_label = getattr(settings, "AUDITLOG_LOGENTRY_MODEL", "auditlog.LogEntry")
    LogEntry = apps.get_model(model_label)  # noqa: N806
    rows = (
        LogEntry.objects.filter(
            workspace_id__in=list(window.workspace_ids),
            actor_id__in=list(user_ids),
            timestamp__gte=window.since,
            timestamp__lt=window.until,
        )
        .order_by()
        .values("actor_id")
        .annotate(n=Count("id"))
    )
    return {r["actor_id"]: r["n"] for r in rows}


def user_activity(window: Window, actor: Actor) -> dict:
    members = (
        Membership.objects.filter(workspace_id__in=window.workspace_ids)
        .order_by()
        .values_list("user_id", "user__username")
        .distinct()
    )
    names = dict(members)
    runs = dict(
        runs_in(window)
        .filter(created_by_id__in=list(names))
        .values_list("created_by_id")
        .annotate(n=Count("id"))
    )
    approvals = dict(
        wf_selectors.step_runs_in_workspaces(window.workspace_ids)
        .filter(
            kind=StepKind.APPROVAL,
            decided_by_id__in=list(names),
            finished_at__gte=window.since,
            finished_at__lt=window.until,
        )
        .values_list("decided_by_id")
        .annotate(n=Count("id"))
    )
    edits = edits_by_user(names, window)
    logins = logins_by_user(names, window)
    admin_of = set(
        memberships_for(actor, min_role=Role.ADMIN)
        .filter(workspace_id__in=window.workspace_ids)
        .values_list("workspace_id", flat=True)
    )
    sees_all_logins = actor.user.is_staff or admin_of >= set(window.workspace_ids)
    users = []
    for user_id, username in sorted(names.items(), key=lambda item: item[1]):
        shown_logins = None
        if logins is not None and (sees_all_logins or user_id == actor.user.pk):
            shown_logins = logins.get(user_id, 0)
        users.append(
            {
                "user_id": user_id,
                "username": username,
                "runs_started": runs.get(user_id, 0),
                "approvals": approvals.get(user_id, 0),
                "edits": edits.get(user_id, 0) if edits is not None else None,
                "logins": shown_logins,
            }
        )
    users.sort(key=lambda u: (-(u["runs_started"] + u["approvals"] + (u["edits"] or 0)),
                              u["username"]))  # fmt: skip
    return {
        "window": window.describe(),
        "sources": {
            "runs_started": "workflows",
            "approvals": "workflows",
            "edits": "audit" if edits is not None else None,
            "logins": "audit" if logins is not None else None,
        },
        "users": users,
    }
