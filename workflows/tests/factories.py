"""Test data: workflows through the authoring service, runs and documents as plain rows
(the engine is not what these tests are about)."""

from django.utils import timezone

from accounts.scoping import Actor
from workflows import authoring
from workflows.models import Document, Run, RunStatus, StepRun, StepStatus

NOTES = {
    "name": "Meeting notes",
    "description": "Summary, then action items.",
    "inputs": [{"name": "notes", "type": "text"}],
    "steps": [
        {"key": "summary", "kind": "generate", "prompt": "Summarise {{ inputs.notes }}"},
        {"key": "actions", "kind": "generate", "prompt": "Actions: {{ steps.summary.output }}"},
    ],
}


def make_workflow(user, workspace, definition=None, **kw):
    return authoring.create_workflow(
        actor=Actor(user), workspace=workspace, definition=definition or NOTES, **kw
    )


def make_run(workflow, *, status=RunStatus.SUCCEEDED, seconds=None, **kw):
    now = timezone.now()
    run = Run.objects.create(
        workspace=workflow.workspace,
        workflow=workflow,
        workflow_version=workflow.version,
        definition=authoring.current_definition(workflow),
        status=status,
        started_at=now if seconds is not None else None,
        finished_at=now + timezone.timedelta(seconds=seconds) if seconds is not None else None,
        **kw,
    )
    return run


def make_step_run(run, key, *, status=StepStatus.SUCCEEDED, **kw):
    return StepRun.objects.create(run=run, key=key, kind="generate", status=status, **kw)


def make_document(run, step_key, *, parents=(), title=None, content="", **kw):
    document = Document.objects.create(
        workspace=run.workspace,
        run=run,
        step_key=step_key,
        title=title or step_key.title(),
        content=content,
        word_count=len(content.split()),
        **kw,
    )
    document.parents.set(parents)
    return document
