"""Transitions made under the run's lock: the only place a run's steps change together.

Every caller opens a transaction and takes `lock()`: one query that reads the run's step runs
with the run, locking the step rows (SELECT ... FOR UPDATE OF, in id order). Holding it
serialises the completions of parallel branches, so a join step is queued exactly once, and
makes cancel, retry, approval, the sweep and step completions see each other's writes. (Claims,
queued -> running, need no lock: they are conditional updates from `queued` only.)
"""

from django.utils import timezone

from config.celery_app import QUEUE_FOR_PRIORITY
from workflows.engine import graph, lease, lifecycle, sql
from workflows.engine.dispatch import Wakeup, new_task_id
from workflows.engine.events import Outbox
from workflows.models import RUN_FINISHED, Run, RunStatus, StepRun, StepStatus

RUN_LOCK_FIELDS = (
    "id",
    "workspace_id",
    "workflow_id",
    "status",
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


def lock(run_id: int, *, with_definition: bool = False) -> tuple[Run, dict[str, StepRun]]:
    """(the run, its step runs by key), step rows locked until the transaction ends."""
    run, rows, _ = _lock(run_id, with_definition=with_definition)
    return run, rows


def lock_for_document(run_id: int) -> tuple[Run, dict[str, StepRun], int | None]:
    """`lock`, and the id of the document the step will write (on PostgreSQL; None elsewhere,
    where `create_document` inserts it at once)."""
    return _lock(run_id, new_document_id=True)


def _lock(run_id: int, *, with_definition: bool = False, new_document_id: bool = False):
    run_fields = RUN_LOCK_FIELDS + (("definition", "inputs") if with_definition else ())
    run, step_runs, document_id = sql.lock(run_id, run_fields, new_document_id=new_document_id)
    if run is None:
        raise Run.DoesNotExist(f"run {run_id} has no steps")
    rows = {}
    for row in step_runs:
        row.run = run
        rows[row.key] = row
    return run, rows, document_id


def save_run(run: Run, fields) -> None:
    sql.update(Run, run.pk, {name: getattr(run, name) for name in fields})


def queue_for(run: Run) -> str:
    return QUEUE_FOR_PRIORITY.get(run.priority, QUEUE_FOR_PRIORITY["normal"])


# What a transition may change on a step row (`advance_and_settle` writes these for each
# changed row, all in one UPDATE).
QUEUED_FIELDS = ["status", "queued_at", "task_id", "rendered_prompt"]
# ... and on a step claimed in the transaction that queued it (`claim`).
CLAIMED_FIELDS = [*QUEUED_FIELDS, "attempts", "started_at", "finished_at", "lease_expires_at"]
WRITE_FIELDS = [
    "status",
    "queued_at",
    "task_id",
    "finished_at",
    "lease_expires_at",
    "error",
    "error_code",
    "document",
    "rendered_prompt",
    "model",
    "tokens_in",
    "tokens_out",
    "cost",
    "latency_ms",
]


def _values(row: StepRun, fields: list[str]) -> dict:
    values = {name: getattr(row, name) for name in fields if name != "document"}
    if "document" in fields:
        values["document_id"] = row.document_id
    return values


def write(row: StepRun, fields: list[str]) -> None:
    sql.update(StepRun, row.pk, _values(row, fields))


def queue_steps(run: Run, rows: list[StepRun], outbox: Outbox, *, now=None) -> list[StepRun]:
    """pending (or reset) steps -> queued, each with a fresh message id, sent on commit.
    Changes the rows in memory; the caller writes them."""
    now = now or timezone.now()
    queue = queue_for(run)
    wakeups = []
    for row in rows:
        row.status = StepStatus.QUEUED
        row.queued_at = now
        row.task_id = new_task_id()
        row.rendered_prompt = ""  # rendered again when it runs
        wakeups.append(Wakeup(row.pk, row.task_id, queue, lease_seconds=row.timeout_seconds))
        outbox.step(run, row, "queued")
    outbox.wake(wakeups)
    return rows


def claim(run: Run, row: StepRun, outbox: Outbox, *, now) -> None:
    """A step just queued -> running for this worker, under the lock: what `sql.claim` does
    to a queued row (attempts + 1, started, leased), its wake-up taken back from `outbox` and
    its start announced after its "queued". Changes the row in memory; the caller writes it
    (CLAIMED_FIELDS)."""
    row.status = StepStatus.RUNNING
    row.attempts += 1
    row.started_at = now
    row.finished_at = None
    row.lease_expires_at = lease.lease_until(now)
    outbox.unwake(row.pk)
    outbox.step(run, row)


def _fields_written(row: StepRun) -> list[str]:
    if row.status == StepStatus.QUEUED:
        return QUEUED_FIELDS
    return CLAIMED_FIELDS if row.status == StepStatus.RUNNING else WRITE_FIELDS


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
    changed: list[StepRun] | None = None,
    now=None,
    also: list[tuple[str, list]] = (),
    hand_off=None,
) -> None:
    """Queue what became ready, skip what can no longer run, then write the step rows that
    changed (the caller's `changed` too, with every field in WRITE_FIELDS loaded) in one
    UPDATE, and the run's status and the totals in `dirty` in another, sent with the
    caller's `also` writes in one round trip on PostgreSQL. `hand_off` (steps.HandOff) may
    pick one of the steps queued here to `claim` at once."""
    now = now or timezone.now()
    dirty = set(dirty or ())
    changed = list(changed or ())
    if run.status not in RUN_FINISHED:
        ready, skipped = graph.advance(upstream, {key: row.status for key, row in rows.items()})
        for key in skipped:
            row = rows[key]
            row.status = StepStatus.SKIPPED
            row.finished_at = now
            row.rendered_prompt = ""
            outbox.step(run, row)
        changed += [rows[key] for key in skipped]
        queued = queue_steps(run, [rows[key] for key in ready], outbox, now=now)
        changed += queued
        taken = hand_off.pick(queued) if hand_off is not None and queued else None
        if taken is not None:
            claim(run, taken, outbox, now=now)
        status = graph.run_status({key: row.status for key, row in rows.items()})
        if status == RunStatus.RUNNING and run.status == RunStatus.QUEUED:
            status = RunStatus.QUEUED  # until a worker claims a step (see steps.run_step)
        if status != run.status:
            run.status = status
            dirty.add("status")
            if status in RUN_FINISHED:
                run.finished_at = now
                dirty.add("finished_at")
                lifecycle.record(run, str(status))  # once per run: succeeded (or failed)
            if run.started_at is None:
                run.started_at = now
                dirty.add("started_at")
            outbox.run(run)
    changes = [(row.pk, _values(row, _fields_written(row))) for row in changed]
    writes = [*also]
    if changes:
        writes.append(sql.update_rows_statement(StepRun, changes))
    if dirty:
        values = {name: getattr(run, name) for name in sorted(dirty)}
        writes.append(sql.update_statement(Run, run.pk, values))
    sql.execute_all(writes)  # the steps and the run: one round trip on PostgreSQL


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
    save_run(run, ["status", "error_code", "error", "finished_at"])
    lifecycle.record(run, "failed", error_code=code)
    outbox.run(run)
