"""Data retention: runs, documents and AI usage records older than RUN_RETENTION_DAYS,
DOCUMENT_RETENTION_DAYS and USAGE_RETENTION_DAYS are deleted by a nightly beat job
(`accounts.retention`, accounts/task_types.py). Each is off (0) by default. What is deleted
belongs to the apps that own it (`accounts.workspace_hooks.register_retention`): workflows
keeps every document a kept document was made from, and the runs that hold them."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from accounts import workspace_hooks

SETTINGS = {
    "runs": "RUN_RETENTION_DAYS",
    "documents": "DOCUMENT_RETENTION_DAYS",
    "usage": "USAGE_RETENTION_DAYS",
}


def cutoffs(now: datetime | None = None) -> dict[str, datetime | None]:
    """What is older than this goes; None = kept for ever."""
    now = now or timezone.now()
    found = {}
    for kind, name in SETTINGS.items():
        days = int(getattr(settings, name, 0) or 0)
        found[kind] = now - timedelta(days=days) if days > 0 else None
    return found


def apply_retention(now: datetime | None = None) -> dict:
    limits = cutoffs(now)
    if all(value is None for value in limits.values()):
        return {"skipped": "no retention configured", "deleted": {}}
    deleted = workspace_hooks.apply_retention(limits)
    return {
        "cutoffs": {k: v.isoformat() if v else None for k, v in limits.items()},
        "deleted": deleted,
    }
