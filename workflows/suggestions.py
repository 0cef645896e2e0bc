"""Smart defaults: a value for each input of a workflow, and where it came from.

Per input: its declared default, else the value the caller gave it in their last successful
run of the workflow, else none. Starting a run with `use_suggested_inputs` fills the inputs the
caller left out from here, and the run records each one in `inputs_filled` (never silently,
required ones included).
"""

from typing import Any

from workflows.definition import INPUT_TYPES, Definition
from workflows.models import Run, RunStatus, Workflow

DEFAULT = "default"
LAST_RUN = "last_run"


def _last_successful_inputs(workflow: Workflow, user) -> tuple[int | None, dict]:
    if user is None or not getattr(user, "is_authenticated", False):
        return None, {}
    row = (
        Run.objects.filter(workflow=workflow, created_by=user, status=RunStatus.SUCCEEDED)
        .order_by("-finished_at", "-id")
        .values("id", "inputs")
        .first()
    )
    return (row["id"], row["inputs"] or {}) if row else (None, {})


def _fits(value: Any, type_name: str) -> bool:
    if value is None or value == "":
        return False
    if type_name in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, INPUT_TYPES[type_name])


def suggest(workflow: Workflow, definition: Definition, user) -> list[dict]:
    """[{name, type, required, value, source, run}] in the definition's order; `source` is
    "default", "last_run" (with that `run`'s id) or None (nothing to suggest)."""
    run_id, last = _last_successful_inputs(workflow, user)
    out = []
    for spec in definition.inputs:
        row = {"name": spec.name, "type": spec.type, "required": spec.required}
        if spec.default is not None:
            row.update(value=spec.default, source=DEFAULT, run=None)
        elif _fits(last.get(spec.name), spec.type):
            row.update(value=last[spec.name], source=LAST_RUN, run=run_id)
        else:
            row.update(value=None, source=None, run=None)
        out.append(row)
    return out


def fill(workflow: Workflow, definition: Definition, inputs: Any, user) -> tuple[Any, dict]:
    """(inputs with the missing ones suggested, {name: {"value", "source", "run"}} filled)."""
    if not isinstance(inputs, dict):
        return inputs, {}  # validate_inputs reports it
    filled: dict[str, dict] = {}
    values = dict(inputs)
    for row in suggest(workflow, definition, user):
        if values.get(row["name"]) is None and row["source"] is not None:
            values[row["name"]] = row["value"]
            filled[row["name"]] = {k: row[k] for k in ("value", "source", "run")}
    return values, filled
