"""Running one task record in a worker: claim, run the type's function, record the outcome.

The claim is a conditional update (pending/scheduled/queued/retrying -> running), so a
duplicate delivery, a cancelled record or a record another worker holds is left alone.
Every write after the claim is conditional on (running, this attempt), so a task cancelled
while it ran stays cancelled whatever the function returns.
"""

import json
import logging
import time
import traceback
from datetime import timedelta

from billiard.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from audit.context import acting_for
from config.backoff import backoff_delay
from tasks import dispatch, events
from tasks.errors import TaskCancelled, TaskTimedOut, TransientTaskError
from tasks.models import CLAIMABLE, BackgroundTask, Status
from tasks.registry import TaskContext, get_task_type

logger = logging.getLogger(__name__)

# A message may arrive this early (clock skew between hosts) and still start its attempt.
EARLY_TOLERANCE = timedelta(seconds=1)


def run(task_id: str, *, worker: str = "") -> str:
    """Run the record `task_id` if it is ours to run; return what happened (for logs/tests)."""
    now = timezone.now()
    record = BackgroundTask.objects.filter(pk=task_id).first()
    if record is None:
        return "missing"
    if record.status not in CLAIMABLE:
        return f"skipped:{record.status}"
    if record.run_after and record.run_after > now + EARLY_TOLERANCE:
        dispatch.send(record)  # early (a resend, or clock skew): wait for its time again
        return "early"
    started = time.monotonic()
    if not claim(record, worker=worker, now=now):
        return "lost-claim"
    events.publish(record, "started")
    try:
        ttype = get_task_type(record.task_type)
    except KeyError:
        return _finish(
            record, Status.FAILED, started, error=f"Unknown task type {record.task_type!r}."
        )
    ctx = TaskContext(record, deadline=started + record.timeout)
    try:
        # What the job changes is audited as done by whoever submitted it.
        with acting_for(record.submitted_by_id):
            result = ttype.fn(ctx, record.payload)
        result = json.loads(json.dumps(result, cls=DjangoJSONEncoder))
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


def claim(record: BackgroundTask, *, worker: str, now) -> bool:
    """Take `record` (as read a moment ago) for one attempt. Any claimable status will do
    (dispatch may move it pending -> queued meanwhile); the attempt count makes sure only one
    delivery wins."""
    attempt = record.attempts + 1
    claimed = BackgroundTask.objects.filter(
        pk=record.pk, status__in=CLAIMABLE, attempts=record.attempts
    ).update(
        status=Status.RUNNING,
        attempts=attempt,
        started_at=now,
        deadline_at=now + timedelta(seconds=record.timeout + settings.TASKS_HARD_LIMIT_GRACE),
        worker=worker[:200],
        run_after=None,
        updated_at=now,
    )
    if claimed:
        record.status, record.attempts, record.started_at, record.worker = (
            Status.RUNNING,
            attempt,
            now,
            worker[:200],
        )
    return bool(claimed)


def _mine(record: BackgroundTask):
    return BackgroundTask.objects.filter(
        pk=record.pk, status=Status.RUNNING, attempts=record.attempts
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
    if not _mine(record).update(**fields):
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
