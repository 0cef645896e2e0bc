"""Which models django-auditlog records, and which workspace each row belongs to.

`register(Model, workspace="workflow__workspace", ...)` registers the model with auditlog
(the remaining keyword arguments are auditlog's: `exclude_fields`, `mask_fields`, ...) and
remembers the path from an instance to its workspace, so its change rows join that
workspace's chain. Apps register their own models (in their AppConfig.ready), so `audit`
never imports them.
"""

from auditlog.registry import auditlog

_workspace_paths: dict[str, str | None] = {}


def register(model, *, workspace: str | None = "workspace", **auditlog_options) -> None:
    _workspace_paths[model._meta.label_lower] = workspace
    auditlog.register(model, **auditlog_options)


def workspace_id_of(instance) -> int | None:
    """The workspace id an audited instance belongs to (None: an account-level object)."""
    label = instance._meta.label_lower
    if label == "accounts.workspace":
        return instance.pk
    path = _workspace_paths.get(label, "workspace")
    if path is None:
        return None
    *hops, last = path.split("__")
    target = instance
    try:
        for hop in hops:
            target = getattr(target, hop)
            if target is None:
                return None
        return getattr(target, f"{last}_id", None) or _pk(getattr(target, last, None))
    except Exception:  # a related row already deleted: the user's chain then
        return None


def _pk(value):
    return getattr(value, "pk", value)
