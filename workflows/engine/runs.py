"""The run verbs: start, cancel, retry, re-run from a step, approve and reject.

Each is one transaction; events and queued messages leave on commit.
"""

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from accounts.models import Role
from accounts.scoping import Actor, require_role
from config.errors import NotFound
from workflows import suggestions
from workflows.authoring import current_definition
from workflows.definition import parse_definition, validate_inputs
from workflows.engine import graph, lifecycle, state
from workflows.engine.dispatch import CELERY, Dispatcher, revoke_on_commit
from workflows.engine.documents import create_document
from workflows.engine.events import Outbox
from workflows.errors import InvalidInputs, InvalidRunState
from workflows.models import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT_SECONDS,
    RUN_FINISHED,
    Priority,
    Run,
    RunStatus,
    StepRun,
    StepStatus,
    Trigger,
    Workflow,
    WorkflowStatus,
)


def _user(actor: Actor | None):
    if actor is None or not actor.user.is_authenticated:
        return None
    return actor.user


def _max_cost(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        cost = Decimal(str(value))
    except (InvalidOperation, ValueError):
        cost = Decimal(-1)
    if not cost.is_finite() or cost < 0:
        raise InvalidInputs("max_cost must be a number of at least 0.", code="invalid_max_cost")
    return cost


def _step_runs(run: Run, definition: dict) -> list[StepRun]:
    upstream = graph.upstream_map(definition)
    return [
        StepRun(
            run=run,
            key=spec["key"],
            kind=spec["kind"],
            depends_on=list(upstream[spec["key"]]),
            max_attempts=spec.get("retry", {}).get("max_attempts", DEFAULT_MAX_ATTEMPTS),
            timeout_seconds=spec.get("timeout", DEFAULT_TIMEOUT_SECONDS),
            context_keys=graph.context_keys(spec, upstream[spec["key"]]),
        )
        for spec in definition["steps"]
    ]


def _launch(run: Run, step_runs: list[StepRun], outbox: Outbox) -> None:
    """Save the step runs, queue the ready ones; all inside the caller's transaction."""
    StepRun.objects.bulk_create(step_runs)
    rows = {row.key: row for row in step_runs}
    outbox.run(run, "queued")
    state.advance_and_settle(run, rows, graph.upstream_map(run.definition), outbox)
    outbox.flush_on_commit()


def start_run(
    *,
    workflow: Workflow,
    inputs: dict | None = None,
    actor: Actor | None = None,
    created_by=None,
    priority: str = Priority.NORMAL,
    trigger: str = Trigger.API,
    max_cost=None,
    use_suggested_inputs: bool = False,
    dispatcher: Dispatcher = CELERY,
) -> Run:
    """Validate the inputs against the workflow's current definition and start a run.

    `actor` (editor or more) for people; None for the system (schedules), with `created_by`.
    `use_suggested_inputs` fills the inputs left out from workflows.suggestions, recorded in
    the run's `inputs_filled`.
    """
    if actor is not None:
        require_role(actor, workflow.workspace_id, Role.EDITOR)
    if workflow.status == WorkflowStatus.ARCHIVED:
        raise InvalidRunState("An archived workflow cannot be run.")
    if priority not in Priority.values:
        raise InvalidInputs(
            f"Unknown priority '{priority}' (known: {', '.join(Priority.values)}).",
            code="invalid_priority",
        )
    definition = current_definition(workflow)
    parsed = parse_definition(definition)
    filled: dict = {}
    if use_suggested_inputs:
        inputs, filled = suggestions.fill(workflow, parsed, inputs, _user(actor) or created_by)
    values = validate_inputs(parsed, inputs)
    cost_limit = _max_cost(max_cost)
    with transaction.atomic():
        run = Run.objects.create(
            workspace_id=workflow.workspace_id,
            workflow=workflow,
            workflow_version=workflow.version,
            definition=definition,
            inputs=values,
            inputs_filled=filled,
            priority=priority,
            trigger=trigger,
            max_cost=cost_limit,
            created_by=_user(actor) or created_by,
        )
        lifecycle.record(run, "started", actor=_user(actor), trigger=trigger)
        _launch(run, _step_runs(run, definition), Outbox(run, dispatcher=dispatcher))
    return run


def _locked(
    actor: Actor | None, run: Run, *, with_definition: bool = False
) -> tuple[Run, dict[str, StepRun]]:
    if actor is not None:
        require_role(actor, run.workspace_id, Role.EDITOR)
    return state.lock(run.pk, with_definition=with_definition)


def cancel_run(*, actor: Actor | None, run: Run, dispatcher: Dispatcher = CELERY) -> Run:
    """Cancel: steps not finished are cancelled, queued messages revoked, and a step running
    now finds its claim gone when it comes to write, and drops its result."""
    with transaction.atomic():
        locked, rows = _locked(actor, run)
        if locked.status in RUN_FINISHED:
            raise InvalidRunState(f"The run has already {locked.status}.")
        outbox = Outbox(locked, dispatcher=dispatcher)
        open_rows = [
            row
            for row in rows.values()
            if row.status
            in (StepStatus.PENDING, StepStatus.QUEUED, StepStatus.RUNNING, StepStatus.WAITING)
        ]
        revoke_on_commit(
            [row.task_id for row in open_rows if row.status == StepStatus.QUEUED and row.task_id],
            dispatcher,
        )
        state.mark_steps(locked, open_rows, StepStatus.CANCELLED, outbox)
        locked.status = RunStatus.CANCELLED
        locked.finished_at = timezone.now()
        locked.save(update_fields=["status", "finished_at"])
        lifecycle.record(locked, "cancelled", actor=_user(actor))
        outbox.run(locked)
        outbox.flush_on_commit()
    return Run.objects.get(pk=run.pk)


def retry_run(*, actor: Actor | None, run: Run, dispatcher: Dispatcher = CELERY) -> Run:
    """Run a failed run again from where it failed: succeeded steps keep their documents;
    failed, skipped and cancelled steps go back to pending and run again."""
    with transaction.atomic():
        locked, rows = _locked(actor, run, with_definition=True)
        if locked.status != RunStatus.FAILED:
            raise InvalidRunState(f"Only a failed run can be retried; this one is {locked.status}.")
        again = [
            row
            for row in rows.values()
            if row.status in (StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED)
        ]
        StepRun.objects.filter(pk__in=[row.pk for row in again]).update(
            status=StepStatus.PENDING,
            attempts=0,
            error="",
            error_code="",
            queued_at=None,
            started_at=None,
            finished_at=None,
            lease_expires_at=None,
            decided_by=None,
            decision_comment="",
        )
        for row in again:  # the same, in memory, for what advance_and_settle writes
            row.status = StepStatus.PENDING
            row.attempts = 0
            row.error = row.error_code = ""
            row.queued_at = row.finished_at = row.lease_expires_at = None
        locked.status = RunStatus.QUEUED
        locked.error = locked.error_code = ""
        locked.finished_at = None
        locked.save(update_fields=["status", "error", "error_code", "finished_at"])
        lifecycle.record(locked, "retried", actor=_user(actor), steps=sorted(r.key for r in again))
        outbox = Outbox(locked, dispatcher=dispatcher)
        outbox.run(locked, "queued")
        state.advance_and_settle(
            locked, rows, graph.upstream_map(locked.definition), outbox, now=timezone.now()
        )
        outbox.flush_on_commit()
    return Run.objects.get(pk=run.pk)


def rerun_from(
    *,
    actor: Actor | None,
    run: Run,
    from_step: str,
    priority: str | None = None,
    dispatcher: Dispatcher = CELERY,
) -> Run:
    """A new run of the same definition and inputs that reuses the documents of the steps
    upstream of `from_step` (pointing at them, not copying) and runs the rest."""
    if actor is not None:
        require_role(actor, run.workspace_id, Role.EDITOR)
    definition = run.definition
    upstream = graph.upstream_map(definition)
    if from_step not in upstream:
        raise InvalidInputs(
            f"The run has no step '{from_step}'.",
            code="unknown_step",
            details={"from_step": [f"unknown step '{from_step}'"]},
        )
    reused = graph.ancestors(upstream, from_step)
    source = {row.key: row for row in StepRun.objects.filter(run=run, key__in=reused)}
    unusable = sorted(
        key
        for key in reused
        if source[key].status not in (StepStatus.SUCCEEDED, StepStatus.SKIPPED)
        or (source[key].status == StepStatus.SUCCEEDED and source[key].document_id is None)
    )
    if unusable:
        raise InvalidRunState(
            f"Step '{unusable[0]}', upstream of '{from_step}', has no result in run {run.pk}.",
            details={"steps": unusable},
        )
    with transaction.atomic():
        new = Run.objects.create(
            workspace_id=run.workspace_id,
            workflow_id=run.workflow_id,
            workflow_version=run.workflow_version,
            definition=definition,
            inputs=run.inputs,
            priority=priority or run.priority,
            trigger=Trigger.API,
            max_cost=run.max_cost,
            source_run=run,
            created_by=_user(actor) or run.created_by,
        )
        lifecycle.record(
            new, "rerun", actor=_user(actor), source_run_id=run.pk, from_step=from_step
        )
        step_runs = _step_runs(new, definition)
        now = timezone.now()
        for row in step_runs:
            if row.key in reused:
                origin = source[row.key]
                row.status = origin.status
                row.document_id = origin.document_id
                row.model = origin.model
                row.finished_at = now
        _launch(new, step_runs, Outbox(new, dispatcher=dispatcher))
    return new


def _waiting_step(rows: dict[str, StepRun], key: str) -> StepRun:
    row = rows.get(key)
    if row is None:
        raise NotFound(f"The run has no step '{key}'.")
    if row.status != StepStatus.WAITING:
        raise InvalidRunState(f"Step '{key}' is not waiting for approval; it is {row.status}.")
    return row


def approve_step(
    *, actor: Actor, run: Run, key: str, comment: str = "", dispatcher: Dispatcher = CELERY
) -> Run:
    """Approve a waiting approval step: it succeeds with a document that carries what was
    approved (its upstream text), and the run goes on."""
    with transaction.atomic():
        locked, rows = _locked(actor, run, with_definition=True)
        row = _waiting_step(rows, key)
        upstream = graph.upstream_map(locked.definition)
        parents = [rows[dep].document for dep in upstream[key] if rows[dep].document_id is not None]
        spec = next(step for step in locked.definition["steps"] if step["key"] == key)
        content = "\n\n".join(doc.content for doc in parents)
        now = timezone.now()
        outbox = Outbox(locked, dispatcher=dispatcher)
        document = create_document(
            run=locked,
            step_key=key,
            title=f"{spec.get('name') or key}: approved by {actor.user.get_username()}",
            content=content,
            parents=parents,
            analysis={"decision": "approved", "comment": comment},
            now=now,
        )
        row.status = StepStatus.SUCCEEDED
        row.document = document
        row.decided_by = actor.user
        row.decision_comment = comment
        row.finished_at = now
        row.save(
            update_fields=["status", "document", "decided_by", "decision_comment", "finished_at"]
        )
        lifecycle.record(locked, "approved", actor=actor, step=key, comment=comment)
        outbox.document(locked, document)
        outbox.step(locked, row)
        state.advance_and_settle(locked, rows, upstream, outbox, now=now)
        outbox.flush_on_commit()
    return Run.objects.get(pk=run.pk)


def reject_step(
    *, actor: Actor, run: Run, key: str, comment: str = "", dispatcher: Dispatcher = CELERY
) -> Run:
    """Reject a waiting approval step: it fails with the comment, and so does the run."""
    with transaction.atomic():
        locked, rows = _locked(actor, run)
        row = _waiting_step(rows, key)
        now = timezone.now()
        outbox = Outbox(locked, dispatcher=dispatcher)
        reason = comment or "no comment"
        row.status = StepStatus.FAILED
        row.error_code = "rejected"
        row.error = f"Rejected by {actor.user.get_username()}: {reason}"
        row.decided_by = actor.user
        row.decision_comment = comment
        row.finished_at = now
        row.save(
            update_fields=[
                "status",
                "error_code",
                "error",
                "decided_by",
                "decision_comment",
                "finished_at",
            ]
        )
        lifecycle.record(locked, "rejected", actor=actor, step=key, comment=comment)
        outbox.step(locked, row)
        state.fail_run(
            locked,
            rows,
            code="rejected",
            message=f"Step '{key}' was rejected by {actor.user.get_username()}: {reason}",
            outbox=outbox,
            now=now,
        )
        outbox.flush_on_commit()
    return Run.objects.get(pk=run.pk)
