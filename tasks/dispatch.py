"""Handing task records to the broker, and taking them back (revoke).

Records are saved `pending`; once the transaction commits their messages are sent and they
become `queued` (or `scheduled`, with an eta). A broker that is down leaves them `pending`;
`maintenance.recover_tasks` hands them over again later. Sending twice is harmless: a worker
claims a record with a conditional update, so a second message finds nothing to do.
"""

import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.celery_app import QUEUE_FOR_PRIORITY
from config.celery_app import app as celery_app
from tasks import events
from tasks.models import BackgroundTask, Status

logger = logging.getLogger(__name__)

EXECUTE_TASK = "tasks.execute"
# Broker commands per pipelined round trip when many messages are sent at once.
BATCH_SIZE = 100


def new_message_id() -> str:
    return uuid.uuid4().hex


def send(task: BackgroundTask, *, producer=None, queues: dict | None = None) -> None:
    """Publish one message that will run `task` (on the queue of its priority, at its eta).
    `queues`: the queues by name, already bound to `producer`'s channel (`send_all`)."""
    now = timezone.now()
    eta = task.run_after if task.run_after and task.run_after > now else None
    name = QUEUE_FOR_PRIORITY[task.priority]
    args = [str(task.pk)]
    celery_app.send_task(
        EXECUTE_TASK,
        args=args,
        # What Celery's saferepr would make of these (for logs and monitoring), at a tenth
        # of its cost: a send's most expensive step after the publish itself.
        argsrepr=repr(args),
        kwargsrepr="{}",
        task_id=task.celery_task_id,
        queue=queues[name] if queues else name,
        routing_key=name,
        eta=eta,
        soft_time_limit=task.timeout,
        time_limit=task.timeout + settings.TASKS_HARD_LIMIT_GRACE,
        producer=producer,
        ignore_result=True,  # the record holds the outcome; no result-backend subscription
    )


def send_all(tasks: Sequence[BackgroundTask]) -> None:
    """`send` for many: one connection for the lot, and kombu's publish batch, so on Redis
    the messages go in pipelined round trips (one per BATCH_SIZE commands), not one LPUSH
    round trip each."""
    if not tasks:
        return
    with celery_app.producer_or_acquire() as producer, producer.batch(max_size=BATCH_SIZE):
        # Bound once here: kombu binds a copy of an unbound queue to the channel for every
        # message, to look it up in the connection's declared cache (a third of a send).
        queues = {
            name: celery_app.amqp.queues[name].bind(producer.channel)
            for name in set(QUEUE_FOR_PRIORITY.values())
        }
        for task in tasks:
            send(task, producer=producer, queues=queues)


def _beyond_horizon(task: BackgroundTask, now) -> bool:
    horizon = now + timedelta(seconds=settings.TASKS_ETA_HORIZON)
    return task.run_after is not None and task.run_after > horizon


def dispatch(tasks: Sequence[BackgroundTask]) -> None:
    """Send the messages for `tasks` (pending records) and mark them queued/scheduled. A task
    due beyond TASKS_ETA_HORIZON is only marked scheduled; release_due() sends it later."""
    if not tasks:
        return
    now = timezone.now()
    held = [t for t in tasks if _beyond_horizon(t, now)]
    to_send = [t for t in tasks if not _beyond_horizon(t, now)]
    try:
        send_all(to_send)
    except Exception:
        # The records stay pending and are handed over again by maintenance.recover_tasks (a
        # failed batch may have delivered some: a second message finds nothing to claim).
        logger.exception("could not hand %d task(s) to the broker", len(to_send))
        to_send = []
    now = timezone.now()
    by_status: dict[str, list] = {Status.QUEUED: [], Status.SCHEDULED: []}
    for task in to_send:
        later = task.run_after is not None and task.run_after > now
        by_status[Status.SCHEDULED if later else Status.QUEUED].append(task)
    for status, group in [*by_status.items(), (None, held)]:
        if not group:
            continue
        sent = status is not None
        status = status or Status.SCHEDULED
        BackgroundTask.objects.filter(pk__in=[t.pk for t in group], status=Status.PENDING).update(
            status=status, queued_at=now if sent else None, updated_at=now
        )
        for task in group:
            if task.status == Status.PENDING:
                task.status = status
                task.queued_at = now if sent else None
        events.publish_many(group, "scheduled" if status == Status.SCHEDULED else "queued")


def release_due() -> int:
    """Send the held scheduled tasks that are now within the horizon (the beat job)."""
    now = timezone.now()
    due = list(
        BackgroundTask.objects.filter(
            status=Status.SCHEDULED,
            queued_at__isnull=True,
            run_after__lte=now + timedelta(seconds=settings.TASKS_ETA_HORIZON),
        )
    )
    if not due:
        return 0
    send_all(due)
    BackgroundTask.objects.filter(pk__in=[t.pk for t in due], queued_at__isnull=True).update(
        queued_at=now, updated_at=now
    )
    return len(due)


def dispatch_on_commit(tasks: Sequence[BackgroundTask]) -> None:
    tasks = list(tasks)
    transaction.on_commit(lambda: dispatch(tasks))


def revoke(message_ids: Sequence[str]) -> None:
    """Tell the workers to drop these messages (a worker holding one with an eta discards it).
    Best effort: the record is already cancelled, and a worker never runs a cancelled record."""
    ids = [m for m in message_ids if m]
    if not ids:
        return
    try:
        celery_app.control.revoke(ids)
    except Exception:
        logger.warning("revoke failed; the cancelled records will be skipped", exc_info=True)


def revoke_on_commit(message_ids: Sequence[str]) -> None:
    ids = list(message_ids)
    transaction.on_commit(lambda: revoke(ids))
