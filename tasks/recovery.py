"""Putting stalled records back on track (the maintenance.recover_tasks beat job).

- `pending` for a while: the broker was down when it was submitted (or the web process died
  between commit and send). Hand it over again.
- `queued` (or `scheduled` and already sent with its eta) when the broker's Redis restarted
  empty: its message was lost with the Redis data. Hand every one of them over again, once,
  at the first recovery after the restart (config/broker.py). A queued task is not resent
  for being old: a long backlog is not a lost message, and resending it would only grow.
- `retrying` long after its retry was due: the retry message was lost. Hand it over again.
- taken from the broker by a worker that is gone (killed with the messages it had prefetched
  and not started): those messages go back in their queues (config/broker.py), steps' too.
- `running` past its deadline (timeout + grace) and then some: the worker died without a
  word (kill -9, a lost host). Retry it if it has retries left, else fail it, saying so.
Sending twice is harmless: workers claim records with a conditional update.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from config import broker
from tasks import dispatch, events
from tasks.models import BackgroundTask, Status

BROKER_MARKER = "docchain:tasks:broker-alive"

LOST_RETRY_AFTER = timedelta(minutes=10)
DEAD_WORKER_AFTER = timedelta(minutes=1)
# A message a worker took this long ago and no live worker holds is given back. Every worker
# holds its messages well before then (it reports them as soon as it has read them).
ORPHANED_AFTER_SECONDS = 30


def recover_stalled() -> dict:
    now = timezone.now()
    pending_before = now - timedelta(seconds=settings.TASKS_RESEND_PENDING_AFTER)
    stale = list(
        BackgroundTask.objects.filter(status=Status.PENDING, updated_at__lt=pending_before)
    )
    dispatch.dispatch(stale)  # sends (or holds, if far ahead) and marks them queued/scheduled
    if broker.restarted(BROKER_MARKER):  # every message in the broker is gone
        lost = Q(status__in=[Status.QUEUED, Status.RETRYING]) | Q(
            status=Status.SCHEDULED, queued_at__isnull=False
        )
    else:
        lost = Q(status=Status.RETRYING, run_after__lt=now - LOST_RETRY_AFTER)
    resend = list(BackgroundTask.objects.filter(lost))
    dispatch.send_all(resend)
    restored = broker.restore_orphans(older_than=ORPHANED_AFTER_SECONDS)
    dead = BackgroundTask.objects.filter(
        status=Status.RUNNING, deadline_at__lt=now - DEAD_WORKER_AFTER
    )
    retried = failed = 0
    for task in dead:
        mine = BackgroundTask.objects.filter(
            pk=task.pk, status=Status.RUNNING, attempts=task.attempts
        )
        if task.attempts <= task.max_retries:
            message_id = dispatch.new_message_id()
            if mine.update(
                status=Status.RETRYING,
                run_after=None,
                celery_task_id=message_id,
                error=f"Attempt {task.attempts} was lost with its worker.",
                updated_at=now,
            ):
                task.status, task.celery_task_id, task.run_after = Status.RETRYING, message_id, None
                dispatch.send(task)
                events.publish(task, "retrying", error="worker lost")
                retried += 1
        elif mine.update(
            status=Status.FAILED,
            error="The worker running it was lost (no result before its deadline).",
            finished_at=now,
            updated_at=now,
            duration_ms=None,
        ):
            task.status = Status.FAILED
            events.publish(task, "failed", error="worker lost")
            failed += 1
    return {
        "resent": len(stale) + len(resend),
        "restored_messages": restored,
        "retried_lost": retried,
        "failed_lost": failed,
    }
