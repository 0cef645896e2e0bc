"""Data retention: finished runs, documents and AI usage records older than their retention
are deleted by a nightly beat job (`accounts.retention`, accounts/task_types.py).

The service's settings (RUN_RETENTION_DAYS, DOCUMENT_RETENTION_DAYS, USAGE_RETENTION_DAYS;
0 = off, the default) apply to every workspace; a workspace's settings may set its own days
(`WorkspaceSettings.run_retention_days`, ...; 0 = keep for ever there). What is deleted
belongs to the apps that own it (`accounts.workspace_hooks.register_retention`): workflows
keeps every document a kept document was made from, and the runs that hold them."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts import workspace_hooks
from accounts.models import WorkspaceSettings

KINDS = {
    "runs": ("RUN_RETENTION_DAYS", "run_retention_days"),
    "documents": ("DOCUMENT_RETENTION_DAYS", "document_retention_days"),
    "usage": ("USAGE_RETENTION_DAYS", "usage_retention_days"),
}


def _cutoff(now: datetime, days) -> datetime | None:
    days = int(days or 0)
    return now - timedelta(days=days) if days > 0 else None


def cutoffs(now: datetime | None = None, *, overrides: dict | None = None) -> dict:
    """What is older than this goes, per kind; None = kept for ever. `overrides`: a
    workspace's own days by field name (None: the service's setting)."""
    now = now or timezone.now()
    overrides = overrides or {}
    found = {}
    for kind, (setting, field) in KINDS.items():
        days = overrides.get(field)
        if days is None:
            days = getattr(settings, setting, 0)
        found[kind] = _cutoff(now, days)
    return found


def _iso(limits: dict) -> dict:
    return {k: v.isoformat() if v else None for k, v in limits.items()}


def _add(total: dict, counts: dict) -> None:
    for name, count in counts.items():
        total[name] = total.get(name, 0) + count


def apply_retention(now: datetime | None = None) -> dict:
    now = now or timezone.now()
    fields = [field for _, field in KINDS.values()]
    own = {
        row["workspace_id"]: row
        for row in WorkspaceSettings.objects.filter(
            Q(run_retention_days__isnull=False)
            | Q(document_retention_days__isnull=False)
            | Q(usage_retention_days__isnull=False)
        ).values("workspace_id", *fields)
    }
    deleted: dict[str, int] = {}
    report = {"default": _iso(cutoffs(now)), "workspaces": {}}
    default = cutoffs(now)
    if any(default.values()):
        _add(deleted, workspace_hooks.apply_retention(default, exclude_ids=sorted(own)))
    for workspace_id, row in own.items():
        limits = cutoffs(now, overrides=row)
        report["workspaces"][str(workspace_id)] = _iso(limits)
        if any(limits.values()):
            _add(deleted, workspace_hooks.apply_retention(limits, workspace_ids=[workspace_id]))
    return {"cutoffs": report, "deleted": deleted}
