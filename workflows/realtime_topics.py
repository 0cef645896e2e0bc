"""The "workflow" and "run" realtime topics: `join_workflow` / `join_run` over the WebSocket
get a snapshot of where things stand, then every event of that workflow or run.

Snapshots read through the selectors (the caller's workspaces), so another workspace's
workflow or run is NotFound, never a leak."""

from accounts.scoping import Actor
from realtime.groups import run_group, workflow_group
from realtime.topics import register_topic
from workflows import selectors
from workflows.models import RUN_FINISHED, Run, StepRun, Workflow

RECENT_RUNS = 20


def _steps_by_run(run_ids: list[int]) -> dict[int, list[dict]]:
    steps: dict[int, list[dict]] = {run_id: [] for run_id in run_ids}
    rows = StepRun.objects.filter(run_id__in=run_ids).order_by("run_id", "id")
    for row in rows.values(
        "run_id", "key", "kind", "status", "attempts", "error_code", "error", "document_id"
    ):
        run_id = row.pop("run_id")
        row["step_key"] = row["key"]
        steps[run_id].append(row)
    return steps


def _run_data(run: Run, steps: list[dict]) -> dict:
    return {
        "id": run.pk,
        "run_id": run.pk,
        "workflow_id": run.workflow_id,
        "status": run.status,
        "priority": run.priority,
        "trigger": run.trigger,
        "error_code": run.error_code,
        "error": run.error,
        "tokens_in": run.tokens_in,
        "tokens_out": run.tokens_out,
        "cost": str(run.cost),
        "created_at": run.created_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "steps": steps,
    }


def workflow_snapshot(actor: Actor, workflow_id: int) -> dict:
    """The workflow, its unfinished runs and its most recent ones, with their steps."""
    workflow = selectors.get_workflow(actor, workflow_id)
    runs = list(Run.objects.filter(workflow=workflow).exclude(status__in=RUN_FINISHED)[:100])
    seen = {run.pk for run in runs}
    runs += [
        run
        for run in Run.objects.filter(workflow=workflow, status__in=RUN_FINISHED)[:RECENT_RUNS]
        if run.pk not in seen
    ]
    steps = _steps_by_run([run.pk for run in runs])
    return {
        "workflow": {
            "id": workflow.pk,
            "name": workflow.name,
            "status": workflow.status,
            "version": workflow.version,
        },
        "runs": [_run_data(run, steps[run.pk]) for run in runs],
    }


def run_snapshot(actor: Actor, run_id: int) -> dict:
    run = selectors.get_run(actor, run_id)
    return {"run": _run_data(run, _steps_by_run([run.pk])[run.pk])}


def workflow_workspace_id(workflow_id: int) -> int | None:
    return Workflow.objects.filter(pk=workflow_id).values_list("workspace_id", flat=True).first()


def run_workspace_id(run_id: int) -> int | None:
    return Run.objects.filter(pk=run_id).values_list("workspace_id", flat=True).first()


def register() -> None:
    # `workspace_of` lets a connection drop the topic when its user leaves that workspace.
    register_topic(
        "workflow",
        group=workflow_group,
        snapshot=workflow_snapshot,
        workspace_of=workflow_workspace_id,
    )
    register_topic("run", group=run_group, snapshot=run_snapshot, workspace_of=run_workspace_id)
