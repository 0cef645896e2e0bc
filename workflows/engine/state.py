"""Transitions made under the run's lock: the only place a run's steps change together.

Every caller opens a transaction, takes `lock_run()` (SELECT ... FOR UPDATE on the Run row)
and reads `step_rows()` under it. Holding the lock serialises the completions of parallel
branches, so a join step is queued exactly once, and makes cancel, retry, approval, the sweep
and step completions see each other's writes. (Claims, queued -> running, need no lock: they
are conditional updates from `queued` only.)
"""

from django.db.models import QuerySet
from django.utils import timezone

from config.celery_app import QUEUE_FOR_PRIORITY
from workflows.engine import graph
from workflows.engine.dispatch import Wakeup, new_task_id
from workflows.engine.events import Outbox
from workflows.models import RUN_FINISHED, Run, RunStatus, StepRun, StepStatus

RUN_LOCK_FIELDS = (
    "id",
    "status",
    "workflow_id",
    "workspace_id",
    "priority",
    "tokens_in",
    "tokens_out",
    "cost",
    "max_cost",
    "error",
    "error_code",
    "started_at",
    "finished_at",
)


def lock_run(run_id: int, *, with_definition: bool = False) -> Run:
    fields = RUN_LOCK_FIELDS + (("definition", "inputs") if with_definition else ())
    return Run.objects.select_for_update().only(*fields).get(pk=run_id)


def step_rows(run: Run) -> dict[str, StepRun]:
    rows: QuerySet[StepRun] = StepRun.objects.filter(run_id=run.pk).defer("rendered_prompt")
    return {row.key: row for row in rows}


def queue_for(run: Run) -> str:
    return QUEUE_FOR_PRIORITY.get(run.priority, QUEUE_FOR_PRIORITY["normal"])


def queue_steps(run: Run, rows: list[StepRun], outbox: Outbox, *, now=None) -> None:
    """pending (or reset) steps -> queued, each with a fresh message id, sent on commit."""
    now = now or timezone.now()
    queue = queue_for(run)
    wakeups = []
    for row in rows:
        row.status = StepStatus.QUEUED
        row.queued_at = now
        row.task_id = new_task_id()
        StepRun.objects.filter(pk=row.pk).update(
            status=row.status, queued_at=now, task_id=row.task_id
        )
        wakeups.append(Wakeup(row.pk, row.task_id, queue))
        outbox.step(run, row, "queued")
    outbox.wake(wakeups)


def mark_steps(run: Run, rows: list[StepRun], status: str, outbox: Outbox, *, now=None) -> None:
    if not rows:
        return
    now = now or timezone.now()
    StepRun.objects.filter(pk__in=[row.pk for row in rows]).update(
        status=status, finished_at=now, lease_expires_at=None
    )
    for row in rows:
        row.status = status
        row.finished_at = now
        outbox.step(run, row)


def advance_and_settle(
    run: Run,
    rows: dict[str, StepRun],
    upstream: dict[str, tuple[str, ...]],
    outbox: Outbox,
    *,
    dirty: set[str] | None = None,
    now=None,
) -> None:
    """Queue what became ready, skip what can no longer run, then bring the run's status
    (and the totals in `dirty`) up to date in one UPDATE."""
    now = now or timezone.now()
    dirty = set(dirty or ())
    if run.status not in RUN_FINISHED:
        ready, skipped = graph.advance(upstream, {key: row.status for key, row in rows.items()})
        mark_steps(run, [rows[key] for key in skipped], StepStatus.SKIPPED, outbox, now=now)
        queue_steps(run, [rows[key] for key in ready], outbox, now=now)
        status = graph.run_status({key: row.status for key, row in rows.items()})
        if status == RunStatus.RUNNING and run.status == RunStatus.QUEUED:
            status = RunStatus.QUEUED  # until a worker claims a step (see steps.execute_step)
        if status != run.status:
            run.status = status
            dirty.add("status")
            if status in RUN_FINISHED:
                run.finished_at = now
                dirty.add("finished_at")
            if run.started_at is None:
                run.started_at = now
                dirty.add("started_at")
            outbox.run(run)
    if dirty:
        run.save(update_fields=sorted(dirty))


def fail_run(
    run: Run, rows: dict[str, StepRun], *, code: str, message: str, outbox: Outbox, now=None
) -> None:
    """The run fails: every step that has not started is skipped (running ones may finish and
    keep their documents, which a retry reuses)."""
    now = now or timezone.now()
    if run.status in RUN_FINISHED:
        return
    waiting = [
        row
        for row in rows.values()
        if row.status in (StepStatus.PENDING, StepStatus.QUEUED, StepStatus.WAITING)
    ]
    mark_steps(run, waiting, StepStatus.SKIPPED, outbox, now=now)
    run.status = RunStatus.FAILED
    run.error_code = code
    run.error = message
    run.finished_at = now
    run.save(update_fields=["status", "error_code", "error", "finished_at"])
    outbox.run(run)
