"""Saving workflows: every change goes through a parsed Definition, bumps the version and
keeps the definition of that version, so runs can snapshot it and history can show it."""

from django.db import transaction

from accounts.models import Role, Workspace
from accounts.scoping import Actor, require_role
from workflows.definition import Definition, StepSpec, parse_definition
from workflows.models import Step, Workflow, WorkflowVersion


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


@transaction.atomic
def create_workflow(
    *, actor: Actor, workspace: Workspace, definition: dict, status=None
) -> Workflow:
    """Validate a whole definition and save it as a new workflow at version 1."""
    require_role(actor, workspace, Role.EDITOR)
    parsed = parse_definition(definition)
    workflow = Workflow(workspace=workspace, created_by=actor.user, version=1)
    if status:
        workflow.status = status
    return _write(workflow, parsed, actor=actor)


@transaction.atomic
def replace_definition(*, actor: Actor, workflow: Workflow, definition: dict) -> Workflow:
    """Validate and save a new definition for an existing workflow as its next version."""
    require_role(actor, workflow.workspace_id, Role.EDITOR)
    parsed = parse_definition(definition)
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    workflow.version += 1
    return _write(workflow, parsed, actor=actor)
