"""Saving workflows: every change goes through a parsed Definition, bumps the version and
keeps the definition of that version, so runs can snapshot it and history can show it.

Invariant: a saved workflow always has a WorkflowVersion row for `workflow.version` holding
its canonical definition (`Definition.to_dict()`); the engine snapshots runs from there.
Every verb here that changes the definition locks the workflow row, rebuilds the whole
definition, re-validates it with `parse_definition` and writes the next version, all in one
transaction. A change that leaves the canonical definition as it was writes nothing.
"""

from typing import Any

from django.db import transaction
from django_celery_beat.models import PeriodicTask

from accounts.models import Role, Workspace
from accounts.scoping import Actor, require_role
from accounts.services import settings_for
from config.errors import NotFound
from workflows.definition import Definition, StepSpec, dump_yaml, load_text, parse_definition
from workflows.errors import DefinitionError, WorkflowInUse
from workflows.models import RunStatus, Step, Workflow, WorkflowStatus, WorkflowVersion

# Workflow fields that live in the definition, by their API name -> definition name.
DEFINITION_FIELDS = {
    "name": "name",
    "description": "description",
    "default_model": "default_model",
    "default_parameters": "parameters",
    "inputs": "inputs",
    "steps": "steps",
}
ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING)


def current_definition(workflow: Workflow) -> dict:
    """The canonical definition of the workflow's current version (what a run snapshots)."""
    return WorkflowVersion.objects.get(workflow=workflow, version=workflow.version).definition


def _step_row(workflow: Workflow, spec: StepSpec, position: int) -> Step:
    return Step(
        workflow=workflow,
        key=spec.key,
        name=spec.name,
        kind=spec.kind,
        position=position,
        depends_on=list(spec.depends_on) if spec.depends_on is not None else None,
        prompt=spec.prompt,
        query=spec.query,
        when=spec.when,
        model=spec.model,
        parameters=spec.parameters,
        response_schema=spec.response_schema,
        retry_max_attempts=spec.max_attempts,
        retry_backoff_seconds=spec.backoff_seconds,
        timeout_seconds=spec.timeout,
    )


def _write(workflow: Workflow, definition: Definition, *, actor: Actor) -> Workflow:
    workflow.name = definition.name
    workflow.description = definition.description
    workflow.default_model = definition.default_model
    workflow.default_parameters = definition.parameters
    workflow.inputs = [spec.to_dict() for spec in definition.inputs]
    workflow.save()
    workflow.steps.all().delete()
    Step.objects.bulk_create(
        [_step_row(workflow, spec, position) for position, spec in enumerate(definition.steps)]
    )
    WorkflowVersion.objects.create(
        workflow=workflow,
        version=workflow.version,
        definition=definition.to_dict(),
        created_by=actor.user if actor.user.is_authenticated else None,
    )
    return workflow


def _lock(workflow: Workflow) -> Workflow:
    return Workflow.objects.select_for_update().get(pk=workflow.pk)


def _save_next_version(*, actor: Actor, workflow: Workflow, definition: Any) -> Workflow:
    """`workflow` is locked. Validate the whole definition; write it as the next version
    unless it is the same as the current one."""
    parsed = parse_definition(definition)
    if parsed.to_dict() == current_definition(workflow):
        return workflow
    workflow.version += 1
    return _write(workflow, parsed, actor=actor)


def _check_status(status: str) -> None:
    if status not in WorkflowStatus.values:
        raise DefinitionError(
            f"Unknown status '{status}'.",
            details={"status": [f"must be one of {', '.join(WorkflowStatus.values)}"]},
        )


def _with_workspace_defaults(definition: Any, workspace: Workspace) -> Any:
    """A new workflow that names no default model or parameters takes its workspace's."""
    if not isinstance(definition, dict):
        return definition  # parse_definition reports it
    defaults = settings_for(workspace)
    filled = dict(definition)
    if not filled.get("default_model") and defaults.default_model:
        filled["default_model"] = defaults.default_model
    if not filled.get("parameters") and defaults.default_parameters:
        filled["parameters"] = dict(defaults.default_parameters)
    return filled


# --- Whole workflows ------------------------------------------------------------------------


@transaction.atomic
def create_workflow(
    *, actor: Actor, workspace: Workspace, definition: dict, status=None
) -> Workflow:
    """Validate a whole definition and save it as a new workflow at version 1."""
    require_role(actor, workspace, Role.EDITOR)
    parsed = parse_definition(_with_workspace_defaults(definition, workspace))
    workflow = Workflow(workspace=workspace, created_by=actor.user, version=1)
    if status:
        _check_status(status)
        workflow.status = status
    return _write(workflow, parsed, actor=actor)


@transaction.atomic
def replace_definition(*, actor: Actor, workflow: Workflow, definition: dict) -> Workflow:
    """Validate and save a new definition for an existing workflow as its next version."""
    require_role(actor, workflow.workspace_id, Role.EDITOR)
    return _save_next_version(actor=actor, workflow=_lock(workflow), definition=definition)


@transaction.atomic
def update_workflow(*, actor: Actor, workflow: Workflow, changes: dict) -> Workflow:
    """Change some of: name, description, default_model, default_parameters, inputs, steps
    (a new version if the definition changes) and status (no new version: it is not part of
    the definition)."""
    require_role(actor, workflow.workspace_id, Role.EDITOR)
    workflow = _lock(workflow)
    unknown = set(changes) - set(DEFINITION_FIELDS) - {"status"}
    if unknown:
        raise DefinitionError(
            f"Unknown field '{sorted(unknown)[0]}'.",
            details={name: ["unknown field"] for name in sorted(unknown)},
        )
    status = changes.get("status")
    if status:
        _check_status(status)
    definition = current_definition(workflow)
    for api_name, def_name in DEFINITION_FIELDS.items():
        if api_name in changes:
            definition[def_name] = changes[api_name]
    workflow = _save_next_version(actor=actor, workflow=workflow, definition=definition)
    if status and status != workflow.status:
        workflow.status = status
        workflow.save(update_fields=["status", "updated_at"])
    return workflow


@transaction.atomic
def delete_workflow(*, actor: Actor, workflow: Workflow) -> None:
    """Delete a workflow with its versions, runs and documents; refused while runs are live."""
    require_role(actor, workflow.workspace_id, Role.EDITOR)
    workflow = _lock(workflow)
    if workflow.runs.filter(status__in=ACTIVE_RUN_STATUSES).exists():
        raise WorkflowInUse()
    # A Schedule does not cascade to its beat task: remove those first.
    PeriodicTask.objects.filter(
        pk__in=workflow.schedules.exclude(periodic_task=None).values("periodic_task_id")
    ).delete()
    workflow.delete()


# --- Steps (nodes) --------------------------------------------------------------------------


def _index_of(steps: list[dict], key: str) -> int:
    for index, step in enumerate(steps):
        if step.get("key") == key:
            return index
    raise NotFound(f"No step '{key}' in this workflow.")


def _without_nulls(step: dict) -> dict:
    # null in an edit means "back to the default", which is the field left out.
    return {name: value for name, value in step.items() if value is not None}


@transaction.atomic
def add_step(
    *, actor: Actor, workflow: Workflow, step: dict, position: int | None = None
) -> Workflow:
    """Insert a step at `position` (0-based; the end by default)."""
    require_role(actor, workflow.workspace_id, Role.EDITOR)
    workflow = _lock(workflow)
    definition = current_definition(workflow)
    steps = definition["steps"]
    if not isinstance(step, dict):
        raise DefinitionError("A step is a mapping with 'key' and 'kind'.")
    if position is None or position > len(steps):
        position = len(steps)
    steps.insert(max(position, 0), _without_nulls(step))
    return _save_next_version(actor=actor, workflow=workflow, definition=definition)


@transaction.atomic
def update_step(
    *, actor: Actor, workflow: Workflow, key: str, changes: dict, partial: bool = True
) -> Workflow:
    """Edit the step `key`: merge `changes` into it (or replace it whole if not partial)."""
    require_role(actor, workflow.workspace_id, Role.EDITOR)
    workflow = _lock(workflow)
    definition = current_definition(workflow)
    steps = definition["steps"]
    index = _index_of(steps, key)
    if not isinstance(changes, dict):
        raise DefinitionError("A step is a mapping with 'key' and 'kind'.")
    edited = {**steps[index], **changes} if partial else {"key": key, **changes}
    steps[index] = _without_nulls(edited)
    return _save_next_version(actor=actor, workflow=workflow, definition=definition)


@transaction.atomic
def reorder_steps(*, actor: Actor, workflow: Workflow, keys: list[str]) -> Workflow:
    """Put the steps in the order of `keys`, which must name every step once. Steps without
    `depends_on` follow the step now before them, so the new graph is validated as a whole."""
    require_role(actor, workflow.workspace_id, Role.EDITOR)
    workflow = _lock(workflow)
    definition = current_definition(workflow)
    by_key = {step["key"]: step for step in definition["steps"]}
    if not isinstance(keys, list) or sorted(map(str, keys)) != sorted(by_key):
        missing = sorted(set(by_key) - set(map(str, keys or [])))
        unknown = sorted(set(map(str, keys or [])) - set(by_key))
        raise DefinitionError(
            "The new order must list every step key exactly once.",
            details={"keys": {"missing": missing, "unknown": unknown}},
        )
    definition["steps"] = [by_key[key] for key in keys]
    return _save_next_version(actor=actor, workflow=workflow, definition=definition)


@transaction.atomic
def delete_step(*, actor: Actor, workflow: Workflow, key: str) -> Workflow:
    """Remove a step; refused (naming the step) if another step still depends on it."""
    require_role(actor, workflow.workspace_id, Role.EDITOR)
    workflow = _lock(workflow)
    definition = current_definition(workflow)
    del definition["steps"][_index_of(definition["steps"], key)]
    return _save_next_version(actor=actor, workflow=workflow, definition=definition)


# --- Import and export ----------------------------------------------------------------------


def read_definition(source: Any) -> Any:
    """A definition from YAML/JSON text, or as given if it is already data."""
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DefinitionError("The definition is not UTF-8 text.") from exc
    if isinstance(source, str):
        return load_text(source)
    return source


def import_workflow(
    *, actor: Actor, workspace: Workspace, source: Any, status: str | None = None
) -> Workflow:
    """Create a workflow from a definition file's text (YAML or JSON) or its parsed data."""
    return create_workflow(
        actor=actor, workspace=workspace, definition=read_definition(source), status=status
    )


def export_definition(workflow: Workflow, *, fmt: str = "json") -> dict | str:
    """The current definition: a dict (JSON) or YAML text. Importing it gives it back."""
    definition = current_definition(workflow)
    return dump_yaml(definition) if fmt == "yaml" else definition


# --- Direct row edits (the admin) -----------------------------------------------------------


def step_as_dict(step: Step) -> dict:
    """A Step row (saved or not) in the definition format."""
    data: dict[str, Any] = {"key": step.key, "kind": step.kind}
    if step.name:
        data["name"] = step.name
    if step.depends_on is not None:
        data["depends_on"] = step.depends_on
    for attr in ("when", "model", "prompt", "query"):
        if getattr(step, attr):
            data[attr] = getattr(step, attr)
    if step.parameters:
        data["parameters"] = step.parameters
    if step.response_schema is not None:
        data["response_schema"] = step.response_schema
    data["retry"] = {
        "max_attempts": step.retry_max_attempts,
        "backoff_seconds": step.retry_backoff_seconds,
    }
    data["timeout"] = step.timeout_seconds
    return data


def definition_from_rows(workflow: Workflow, steps) -> dict:
    """The definition that a Workflow row and Step rows (in position order) describe."""
    return {
        "name": workflow.name,
        "description": workflow.description,
        "default_model": workflow.default_model,
        "parameters": workflow.default_parameters or {},
        "inputs": workflow.inputs or [],
        "steps": [step_as_dict(step) for step in steps],
    }


@transaction.atomic
def version_row_edits(*, user, workflow: Workflow) -> Workflow:
    """After the admin saved a workflow's rows directly (Django's admin permissions gate that,
    not workspace roles): read them back as a definition, validate it, and save it as the
    next version (or version 1 of a new workflow), so the version invariant holds."""
    workflow = _lock(workflow)
    definition = definition_from_rows(workflow, workflow.steps.order_by("position", "id"))
    actor = Actor(user)
    if not WorkflowVersion.objects.filter(workflow=workflow).exists():
        workflow.version = 1
        return _write(workflow, parse_definition(definition), actor=actor)
    return _save_next_version(actor=actor, workflow=workflow, definition=definition)
