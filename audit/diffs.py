"""Change descriptions auditlog cannot compute by itself."""

from typing import Any

STEP_IDENTITY = "key"


def _steps(definition: dict | None) -> dict[str, dict]:
    steps = (definition or {}).get("steps") or []
    return {str(step.get(STEP_IDENTITY)): step for step in steps if isinstance(step, dict)}


def definition_diff(old: dict | None, new: dict | None) -> dict[str, list[Any]]:
    """{"<field path>": [old, new]} between two workflow definitions: top-level fields, and
    each step added, removed or changed (field by field), plus the step order."""
    old, new = old or {}, new or {}
    changes: dict[str, list[Any]] = {}
    for field in sorted((set(old) | set(new)) - {"steps"}):
        if old.get(field) != new.get(field):
            changes[f"definition.{field}"] = [old.get(field), new.get(field)]
    before, after = _steps(old), _steps(new)
    for key in sorted(set(before) | set(after)):
        if key not in after:
            changes[f"definition.steps.{key}"] = [before[key], None]
        elif key not in before:
            changes[f"definition.steps.{key}"] = [None, after[key]]
        else:
            for field in sorted(set(before[key]) | set(after[key])):
                was, now = before[key].get(field), after[key].get(field)
                if was != now:
                    changes[f"definition.steps.{key}.{field}"] = [was, now]
    if list(before) != list(after) and set(before) == set(after):
        changes["definition.steps.order"] = [list(before), list(after)]
    return changes


def workflow_version_changes(version) -> dict[str, list[Any]]:
    """A new WorkflowVersion row, described as what changed since the version before it."""
    model = type(version)
    previous = (
        model._default_manager.filter(workflow_id=version.workflow_id, version__lt=version.version)
        .order_by("-version")
        .values_list("version", "definition")
        .first()
    )
    old_version, old_definition = previous if previous else (None, None)
    changes = definition_diff(old_definition, version.definition)
    changes["version"] = [old_version, version.version]
    return changes
