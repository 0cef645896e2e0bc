"""Which models django-auditlog records, which workspace each row belongs to, and the few
things auditlog cannot be told directly.

`register(Model, workspace="workflow__workspace", ...)` registers the model with auditlog
(other keyword arguments are auditlog's own: `exclude_fields`, `mask_fields`, ...) and
remembers:
- `workspace`: the path from an instance to its workspace ("self" for a workspace, None for
  account-level objects), so its rows join that workspace's chain;
- `object_pk`: a callable giving the id to log, when the primary key must not be logged;
- `changes_on_create`: a callable describing a new row better than "every field was set".
"""

from dataclasses import dataclass
from typing import Any

from auditlog.registry import auditlog


@dataclass(frozen=True)
class Options:
    workspace: str | None = "workspace"
    object_pk: Any = None
    changes_on_create: Any = None


_options: dict[str, Options] = {}


def register(
    model,
    *,
    workspace: str | None = "workspace",
    object_pk=None,
    changes_on_create=None,
    **auditlog_options,
) -> None:
    _options[model._meta.label_lower] = Options(workspace, object_pk, changes_on_create)
    # Reverse relations ("its runs", "its keys") are not the row's fields: never diff them.
    reverse = [f.name for f in model._meta.get_fields() if f.auto_created and not f.concrete]
    auditlog_options["exclude_fields"] = [*auditlog_options.get("exclude_fields", []), *reverse]
    auditlog.register(model, **auditlog_options)


def options_for(instance) -> Options:
    return _options.get(instance._meta.label_lower, Options())


def workspace_id_of(instance) -> int | None:
    """The workspace id an audited instance belongs to (None: an account-level object)."""
    path = options_for(instance).workspace
    if instance._meta.label_lower == "accounts.workspace" or path == "self":
        return instance.pk
    if path is None:
        return None
    *hops, last = path.split("__")
    target = instance
    try:
        for hop in hops:
            target = getattr(target, hop)
            if target is None:
                return None
        value = getattr(target, f"{last}_id", None)
        return value if value is not None else getattr(getattr(target, last, None), "pk", None)
    except Exception:  # a related row already deleted: then the actor's chain
        return None
