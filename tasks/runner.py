"""Running one task record in a worker: claim, run the type's function, record the outcome.

The claim is a conditional update (pending/scheduled/queued/retrying -> running) that returns
the record, so a duplicate delivery, a cancelled record or a record another worker holds is
left alone, and a run costs two statements: the claim and the outcome.
Every write after the claim is conditional on (running, this attempt), so a task cancelled
while it ran stays cancelled whatever the function returns.
"""

import functools
import logging
import time
import traceback
from datetime import timedelta

from billiard.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection
from django.utils import timezone

from audit.context import acting_for
from config import rawsql
from config.backoff import backoff_delay
from config.safejson import json_safe
from tasks import dispatch, events
from tasks.errors import TaskCancelled, TaskTimedOut, TransientTaskError
from tasks.models import CLAIMABLE, BackgroundTask, Status
from tasks.registry import TaskContext, get_task_type

logger = logging.getLogger(__name__)

# What a claim reads back: the record but for what an attempt never reads (its earlier
# outcome, timestamps, bookkeeping); those columns are deferred. 0.06 ms less per claim.
_COLUMNS = rawsql.columns(
    BackgroundTask,
    (
        "result",
        "error",
        "traceback",
        "idempotency_key",
        "scheduled_for",
        "duration_ms",
        "created_at",
        "queued_at",
        "deadline_at",
        "finished_at",
        "updated_at",
        "worker",
    ),
)
# A message may arrive this early (clock skew between hosts) and still start its attempt.
EARLY_TOLERANCE = timedelta(seconds=1)


def run(task_id: str, *, worker: str = "") -> str:
    """Run the record `task_id` if it is ours to run; return what happened (for logs/tests)."""
    now = timezone.now()
    started = time.monotonic()
    record = claim(task_id, worker=worker, now=now)
    if record is None:
        return _not_claimed(task_id, now)
    events.publish(record, "started")
    try:
        ttype = get_task_type(record.task_type)
    except KeyError:
        return _finish(
            record, Status.FAILED, started, error=f"Unknown task type {record.task_type!r}."
        )
    ctx = TaskContext(record, deadline=started + record.timeout)
    try:
        # What the job changes is audited as done by whoever submitted it (looked up only if
        # the job writes an audit row: most write none).
        with acting_for(record.submitted_by_id):
            result = ttype.fn(ctx, record.payload)
        result = json_safe(result)
    except TaskCancelled:
        return "cancelled"  # the record already says so
    except (SoftTimeLimitExceeded, TaskTimedOut):
        return _finish(
            record,
            Status.TIMED_OUT,
            started,
            error=f"Time limit exceeded: the attempt ran past its time limit of {record.timeout}s.",
        )
    except TransientTaskError as exc:
        return _retry_or_fail(record, ttype.retry_backoff, started, exc)
    except Exception as exc:
        logger.info("task %s failed", record.pk, exc_info=True)
        return _finish(
            record,
            Status.FAILED,
            started,
            error=f"{type(exc).__name__}: {exc}",
            tb=traceback.format_exc(),
        )
    return _finish(record, Status.SUCCEEDED, started, result=result)


def claim(task_id, *, worker: str, now) -> BackgroundTask | None:
    """Take the record for one attempt and return it as it now stands, in one statement (an
    UPDATE ... RETURNING: no read before it). Any claimable status will do (dispatch may move
    it pending -> queued meanwhile), provided it is due; the row's lock makes sure only one
    of two deliveries wins: the second finds it running. None if it was not ours to take."""
    pk_field = BackgroundTask._meta.pk
    params = {
        "now": _db_datetime(now),
        "early": _db_datetime(now + EARLY_TOLERANCE),
        "worker": worker[:200],
        "id": pk_field.get_db_prep_value(pk_field.to_python(task_id), connection),
    }
    with rawsql.cursor() as cursor:
        cursor.execute(_claim_sql(connection.vendor, settings.TASKS_HARD_LIMIT_GRACE), params)
        row = cursor.fetchone()
    # Built from the row directly: a RawQuerySet's per-query setup was a quarter of the claim.
    return rawsql.build(BackgroundTask, _COLUMNS, row) if row else None


def _db_datetime(value):
    return connection.ops.adapt_datetimefield_value(value)


@functools.cache
def _claim_sql(vendor: str, grace: int) -> str:
    """Named parameters, the moment given once; the statuses and the grace written in (each
    bound value costs the client its conversion: 12 of them were a tenth of the claim)."""
    meta = BackgroundTask._meta
    quote = connection.ops.quote_name
    timeout = quote("timeout")
    if vendor == "postgresql":
        deadline = f"%(now)s + make_interval(secs => {timeout} + {int(grace)})"
    else:  # SQLite, in the text form Django stores datetimes in (to the millisecond)
        deadline = (
            f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', %(now)s, '+' || ({timeout} + {int(grace)})"
            " || ' seconds')"
        )
    claimable = ", ".join(f"'{status.value}'" for status in CLAIMABLE)
    columns = rawsql.returning(BackgroundTask, _COLUMNS)
    # Names from the model's metadata, statuses from its choices; every value is a parameter.
    return (
        f"UPDATE {quote(meta.db_table)} SET status = '{Status.RUNNING.value}',"  # noqa: S608
        f" attempts = attempts + 1, started_at = %(now)s, deadline_at = {deadline},"
        f" worker = %(worker)s, run_after = NULL, updated_at = %(now)s"
        f" WHERE {quote(meta.pk.column)} = %(id)s AND status IN ({claimable})"
        f" AND (run_after IS NULL OR run_after <= %(early)s) RETURNING {columns}"
    )


def _not_claimed(task_id: str, now) -> str:
    """Why a delivery found nothing to claim (the rare path: one more read)."""
    record = BackgroundTask.objects.filter(pk=task_id).first()
    if record is None:
        return "missing"
    if record.status not in CLAIMABLE:
        return f"skipped:{record.status}"
    if record.run_after and record.run_after > now + EARLY_TOLERANCE:
        dispatch.send(record)  # early (a resend, or clock skew): wait for its time again
        return "early"
    return "lost-claim"


def _mine(record: BackgroundTask):
    return BackgroundTask.objects.filter(
        pk=record.pk, status=Status.RUNNING, attempts=record.attempts
    )


def _update_outcome(record: BackgroundTask, fields: dict) -> int:
    """`_mine(record).update(**fields)` for an outcome, as one prepared statement with the
    status (and a success's progress) written in and the moment bound once: the ORM's
    compiling of the UPDATE was a fifth of a run's CPU, and each bound value costs the client
    its conversion (11 of them before; 5 for a success now)."""
    meta = BackgroundTask._meta
    failed = bool(fields["error"] or fields["traceback"])
    params = {
        "now": _db_datetime(fields["updated_at"]),
        "ms": fields["duration_ms"],
        "result": meta.get_field("result").get_db_prep_save(fields["result"], connection),
        "id": meta.pk.get_db_prep_value(record.pk, connection),
        "attempts": record.attempts,
    }
    if failed:
        params.update(error=fields["error"], traceback=fields["traceback"])
    with rawsql.cursor() as cursor:
        cursor.execute(_outcome_sql(fields["status"], failed), params)
        return cursor.rowcount


@functools.cache
def _outcome_sql(status: str, failed: bool) -> str:
    meta = BackgroundTask._meta
    quote = connection.ops.quote_name
    said = "%(error)s, traceback = %(traceback)s" if failed else "'', traceback = ''"
    progress = ", progress = 100" if status == Status.SUCCEEDED else ""
    # Names from the model's metadata, statuses from its choices; every value is a parameter.
    return (
        f"UPDATE {quote(meta.db_table)} SET status = '{Status(status).value}',"  # noqa: S608
        f" result = %(result)s, error = {said}, finished_at = %(now)s, updated_at = %(now)s,"
        f" duration_ms = %(ms)s{progress}"
        f" WHERE {quote(meta.pk.column)} = %(id)s AND status = '{Status.RUNNING.value}'"
        " AND attempts = %(attempts)s"
    )


def _finish(record, status, started: float, *, result=None, error: str = "", tb: str = "") -> str:
    now = timezone.now()
    fields = {
        "status": status,
        "result": result,
        "error": error,
        "traceback": tb,
        "finished_at": now,
        "duration_ms": int((time.monotonic() - started) * 1000),
        "updated_at": now,
    }
    if status == Status.SUCCEEDED:
        fields.update(progress=100)
    if not _update_outcome(record, fields):
        return "discarded"  # cancelled while it ran
    for name, value in fields.items():
        setattr(record, name, value)
    events.publish(record, status, **({"error": error} if error else {}))
    return status


def _retry_or_fail(record, backoff: float, started: float, exc: TransientTaskError) -> str:
    if record.attempts > record.max_retries:
        return _finish(
            record,
            Status.FAILED,
            started,
            error=f"Gave up after {record.attempts} attempt(s): {exc}",
            tb=traceback.format_exc(),
        )
    delay = backoff_delay(
        attempt=record.attempts,
        base=settings.TASKS_RETRY_BASE_DELAY,
        factor=backoff,
        cap=settings.TASKS_RETRY_MAX_DELAY,
        at_least=exc.retry_after,
    )
    now = timezone.now()
    run_after = now + timedelta(seconds=delay)
    message_id = dispatch.new_message_id()
    if not _mine(record).update(
        status=Status.RETRYING,
        run_after=run_after,
        error=f"Attempt {record.attempts} failed: {exc}",
        celery_task_id=message_id,
        duration_ms=int((time.monotonic() - started) * 1000),
        updated_at=now,
    ):
        return "discarded"
    record.status, record.run_after, record.celery_task_id = Status.RETRYING, run_after, message_id
    record.error = f"Attempt {record.attempts} failed: {exc}"
    dispatch.send(record)
    events.publish(record, "retrying", next_attempt_at=run_after.isoformat(), error=record.error)
    return "retrying"


def mark_killed(task_id: str, *, reason: str, status: str = Status.TIMED_OUT) -> bool:
    """The worker process was killed (hard time limit): record it, from the parent process."""
    now = timezone.now()
    record = BackgroundTask.objects.filter(pk=task_id, status=Status.RUNNING).first()
    if record is None:
        return False
    duration = int((now - record.started_at).total_seconds() * 1000) if record.started_at else None
    done = _mine(record).update(
        status=status, error=reason, finished_at=now, duration_ms=duration, updated_at=now
    )
    if done:
        record.status, record.error = status, reason
        events.publish(record, status, error=reason)
    return bool(done)
