"""Reads of the audit, already scoped to what the caller may see.

- Owners and admins of a workspace read its audit (change rows and security events);
- every user reads their own security events, alerts and account-level change rows;
- staff read everything.

The audit log (`audit_log`) is one feed of both tables, newest first: a UNION ALL of change
rows and security events in common columns, filtered on each side before the union.
"""

from dataclasses import dataclass
from datetime import datetime

from django.apps import apps
from django.db.models import (
    Case,
    CharField,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, Concat

from audit.errors import InvalidAuditQuery
from audit.events import SecurityEventKind, Severity
from audit.models import AuditLogEntry, SecurityAlert, SecurityEvent

CHANGE_ACTIONS = {"create": 0, "update": 1, "delete": 2, "access": 3}
RUN_EVENTS = tuple(
    f"run.{name}"
    for name in (
        "started",
        "cancelled",
        "retried",
        "rerun",
        "approved",
        "rejected",
        "failed",
        "succeeded",
    )
)
TASK_EVENTS = ("task.submitted", "task.cancelled", "task.retried")
ACTIONS = (*CHANGE_ACTIONS, *RUN_EVENTS, *TASK_EVENTS, *SecurityEventKind.values)
ADMIN_ROLES = ("owner", "admin")


def _memberships():
    return apps.get_model("accounts", "Membership").objects


@dataclass(frozen=True)
class Viewer:
    """Who reads the audit. An API key caller is capped below admin (accounts.scoping), so it
    reads only its user's own events, never a workspace's audit, nor as staff."""

    pk: int
    is_staff: bool = False
    via_api_key: bool = False

    @classmethod
    def of(cls, request) -> "Viewer":
        via_key = hasattr(request.auth, "prefix") and hasattr(request.auth, "workspace_id")
        user = request.user
        return cls(pk=user.pk, is_staff=user.is_staff and not via_key, via_api_key=via_key)


def admin_workspace_ids(user) -> list[int]:
    """Workspaces whose audit the user reads (owner or admin there)."""
    if getattr(user, "via_api_key", False):
        return []
    return list(
        _memberships()
        .filter(user_id=user.pk, role__in=ADMIN_ROLES)
        .values_list("workspace_id", flat=True)
    )


def role_in(user, workspace_id: int) -> str | None:
    return (
        _memberships()
        .filter(user_id=user.pk, workspace_id=workspace_id)
        .values_list("role", flat=True)
        .first()
    )


@dataclass(frozen=True)
class AuditQuery:
    actor: int | None = None
    action: str | None = None
    model: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    workspace: int | None = None
    severity: str | None = None
    q: str | None = None

    def __post_init__(self):
        if self.since and self.until and self.since > self.until:
            raise InvalidAuditQuery(
                "`since` is after `until`.",
                details={"since": [str(self.since)], "until": [str(self.until)]},
            )


def _change_scope(user) -> Q:
    if user.is_staff:
        return Q()
    scope = Q(workspace_id__in=admin_workspace_ids(user))
    return scope | Q(workspace_id__isnull=True, actor_id=user.pk)


def _event_scope(user) -> Q:
    if user.is_staff:
        return Q()
    mine = Q(user_id=user.pk) | Q(actor_id=user.pk)
    return mine | Q(workspace_id__in=admin_workspace_ids(user))


def change_rows(user, query: AuditQuery) -> QuerySet[AuditLogEntry]:
    rows = AuditLogEntry.objects.filter(_change_scope(user))
    if query.workspace is not None:
        rows = rows.filter(workspace_id=query.workspace)
    if query.actor is not None:
        rows = rows.filter(actor_id=query.actor)
    if query.action in CHANGE_ACTIONS:
        rows = rows.filter(action=CHANGE_ACTIONS[query.action])
    elif query.action is not None:
        rows = rows.filter(additional_data__event=query.action)
    if query.model:
        app_label, _, model = query.model.lower().partition(".")
        rows = rows.filter(content_type__app_label=app_label, content_type__model=model)
    if query.object_id:
        rows = rows.filter(object_pk=query.object_id)
    if query.since:
        rows = rows.filter(timestamp__gte=query.since)
    if query.until:
        rows = rows.filter(timestamp__lt=query.until)
    if query.severity and query.severity != Severity.INFO:
        rows = rows.none()  # change rows are all "info"
    if query.q:
        rows = rows.filter(
            Q(object_repr__icontains=query.q)
            | Q(changes_text__icontains=query.q)
            | Q(actor__username__icontains=query.q)
        )
    return rows


def event_rows(user, query: AuditQuery) -> QuerySet[SecurityEvent]:
    rows = SecurityEvent.objects.filter(_event_scope(user))
    if query.workspace is not None:
        rows = rows.filter(workspace_id=query.workspace)
    if query.actor is not None:
        rows = rows.filter(Q(actor_id=query.actor) | Q(actor__isnull=True, user_id=query.actor))
    if query.action is not None:
        rows = rows.filter(kind=query.action)
    if query.model or query.object_id:
        rows = rows.none()  # security events are not about a model's rows
    if query.since:
        rows = rows.filter(created_at__gte=query.since)
    if query.until:
        rows = rows.filter(created_at__lt=query.until)
    if query.severity:
        rows = rows.filter(severity=query.severity)
    if query.q:
        rows = rows.filter(
            Q(username__icontains=query.q) | Q(kind__icontains=query.q) | Q(ip__startswith=query.q)
        )
    return rows


FEED_FIELDS = (
    "source",
    "id",
    "timestamp",
    "actor_id",
    "username",
    "action",
    "model",
    "object_id",
    "object_repr",
    "workspace_id",
    "severity",
    "ip",
    "changes",
    "count",
    "chain",
    "seq",
    "hash",
)


def _feed_columns(*, ip: str) -> list[str]:
    """FEED_FIELDS as one table's columns: the annotations below (`action` and `object_id`
    are taken by the models' own fields) and the table's name for the address."""
    renamed = {"action": "action_name", "object_id": "object_id_text", "ip": ip}
    return [renamed.get(name, name) for name in FEED_FIELDS]


def _change_columns(rows: QuerySet) -> QuerySet:
    action_name = Case(
        *[When(action=value, then=Value(name)) for name, value in CHANGE_ACTIONS.items()],
        output_field=CharField(),
    )
    # No ordering inside a UNION's parts (SQLite refuses it); the union is ordered.
    return (
        rows.order_by()
        .annotate(
            source=Value("change", output_field=CharField()),
            username=Coalesce(F("actor__username"), Value(""), output_field=CharField()),
            action_name=Coalesce(
                KeyTextTransform("event", "additional_data"), action_name, output_field=CharField()
            ),
            model=Concat(
                F("content_type__app_label"),
                Value("."),
                F("content_type__model"),
                output_field=CharField(),
            ),
            object_id_text=F("object_pk"),
            severity=Value(Severity.INFO.value, output_field=CharField()),
            count=Value(1, output_field=IntegerField()),
        )
        .values_list(*_feed_columns(ip="remote_addr"))
    )


def _event_columns(rows: QuerySet) -> QuerySet:
    return (
        rows.order_by()
        .annotate(
            source=Value("security", output_field=CharField()),
            timestamp=F("created_at"),
            action_name=F("kind"),
            model=Value("", output_field=CharField()),
            object_id_text=Value("", output_field=CharField()),
            object_repr=Value("", output_field=CharField()),
            changes=F("details"),
        )
        .values_list(*_feed_columns(ip="ip"))
    )


def audit_log(user, query: AuditQuery):
    """Change rows and security events the user may read, newest first, as tuples in
    FEED_FIELDS order."""
    changes = _change_columns(change_rows(user, query))
    events = _event_columns(event_rows(user, query))
    return changes.union(events, all=True).order_by("-timestamp", "-id")


def as_feed_row(values: tuple) -> dict:
    return dict(zip(FEED_FIELDS, values, strict=True))


def security_events(user) -> QuerySet[SecurityEvent]:
    return SecurityEvent.objects.filter(_event_scope(user))


def alerts(user) -> QuerySet[SecurityAlert]:
    if user.is_staff:
        return SecurityAlert.objects.all()
    return SecurityAlert.objects.filter(
        Q(user_id=user.pk) | Q(workspace_id__in=admin_workspace_ids(user))
    )


def can_see_activity_of(viewer, subject_id: int) -> bool:
    return viewer.is_staff or viewer.pk == subject_id or bool(_shared(viewer, subject_id))


def _shared(viewer, subject_id: int) -> set[int]:
    """Workspaces where the viewer is owner or admin and the subject is a member."""
    theirs = _memberships().filter(user_id=subject_id).values_list("workspace_id", flat=True)
    return set(admin_workspace_ids(viewer)) & set(theirs)


def activity(viewer, subject_id: int):
    """The subject's recent activity (both tables), newest first: everything for the subject
    and staff; for owners and admins of a workspace both share, that workspace's rows."""
    if viewer.is_staff or viewer.pk == subject_id:
        changes = AuditLogEntry.objects.filter(actor_id=subject_id)
        events = SecurityEvent.objects.filter(Q(actor_id=subject_id) | Q(user_id=subject_id))
    else:
        shared = _shared(viewer, subject_id)
        changes = AuditLogEntry.objects.filter(actor_id=subject_id, workspace_id__in=shared)
        events = SecurityEvent.objects.filter(
            Q(actor_id=subject_id) | Q(user_id=subject_id), workspace_id__in=shared
        )
    return (
        _change_columns(changes)
        .union(_event_columns(events), all=True)
        .order_by("-timestamp", "-id")
    )
