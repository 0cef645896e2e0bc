"""Runs and step runs written straight to the database, with the timestamps a test needs
(the engine itself is tested in workflows/; here only the figures matter)."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from workflows.models import Run, RunStatus, StepRun, StepStatus, Workflow


def make_workflow(workspace, name="Report", **extra) -> Workflow:
    return Workflow.objects.create(workspace=workspace, name=name, **extra)


def make_run(
    workflow,
    *,
    status=RunStatus.SUCCEEDED,
    seconds: float | None = 10.0,
    ago: timedelta = timedelta(minutes=30),
    user=None,
    tokens=(0, 0),
    cost="0",
    steps=(),
) -> Run:
    """A run created `ago` before now that took `seconds` (None: never finished), with
    step runs given as dicts of StepRun fields."""
    created = timezone.now() - ago
    run = Run.objects.create(
        workspace=workflow.workspace,
        workflow=workflow,
        workflow_version=1,
        definition={},
        status=status,
        tokens_in=tokens[0],
        tokens_out=tokens[1],
        cost=Decimal(cost),
        created_by=user,
    )
    finished = created + timedelta(seconds=seconds) if seconds is not None else None
    Run.objects.filter(pk=run.pk).update(
        created_at=created,
        started_at=created if seconds is not None else None,
        finished_at=finished,
    )
    for i, fields in enumerate(steps):
        fields = {"status": StepStatus.SUCCEEDED, "kind": "generate", **fields}
        StepRun.objects.create(run=run, key=fields.pop("key", f"s{i}"), **fields)
    run.refresh_from_db()
    return run
