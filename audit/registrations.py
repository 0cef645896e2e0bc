"""Every domain model django-auditlog records, in one table, by label: `audit` imports no
domain app. Apps added later (security, notifications) call `audit.registry.register` for
theirs, or add a line here.

Not registered, on purpose: workflow steps (re-created with `bulk_create` on every edit: the
edit is audited as the WorkflowVersion row and its diff), runs, step runs and documents (the
engine writes them with plain SQL; run lifecycle rows come from `audit.services.record_change`),
background tasks (submit, cancel and retry are explicit rows; a worker's own status changes are
not audited).
"""

from django.apps import apps

from audit import registry
from audit.diffs import workflow_version_changes

# label: (path to the workspace or None, auditlog options)
AUDITED = {
    "accounts.User": (
        None,
        {
            "exclude_fields": ["password", "last_login"],
            "m2m_fields": set(),
        },
    ),
    "accounts.Workspace": ("self", {"exclude_fields": ["updated_at"]}),
    "accounts.Membership": ("workspace", {}),
    # The key's id is "<prefix>.<hash of the secret>": neither it nor the hash is ever logged.
    "accounts.ApiKey": (
        "workspace",
        {"exclude_fields": ["id", "hashed_key"], "object_pk": lambda key: key.prefix},
    ),
    "workflows.Workflow": ("workspace", {"exclude_fields": ["updated_at"]}),
    "workflows.WorkflowVersion": (
        "workflow__workspace",
        {"changes_on_create": workflow_version_changes},
    ),
    "workflows.Schedule": ("workflow__workspace", {}),
    "workflows.Budget": ("workspace", {"exclude_fields": ["updated_at"]}),
}


def register_all() -> None:
    for label, (workspace_path, options) in AUDITED.items():
        try:
            model = apps.get_model(label)
        except LookupError:  # an app that is not installed
            continue
        registry.register(model, workspace=workspace_path, **options)


def add_history_to_admin() -> None:
    """Give each audited model's admin page auditlog's per-object history (a "History" link
    per row and a page of its change rows), without each app's admin importing `audit`: the
    registered ModelAdmin is swapped for a subclass with `AuditlogHistoryAdminMixin`."""
    from auditlog.mixins import AuditlogHistoryAdminMixin
    from django.contrib import admin

    for label in AUDITED:
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        current = admin.site._registry.get(model)
        if current is None or isinstance(current, AuditlogHistoryAdminMixin):
            continue
        with_history = type(
            type(current).__name__,
            (AuditlogHistoryAdminMixin, type(current)),
            {"show_auditlog_history_link": True, "__module__": type(current).__module__},
        )
        admin.site.unregister(model)
        admin.site.register(model, with_history)
