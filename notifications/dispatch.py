"""Handing deliveries to the workers (after commit, on the queue of their priority) and the
`notification.delivery.*` events on the workspace topic (ids and status only: viewers can
join that topic, so no addresses)."""

import logging
from collections.abc import Iterable
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.celery_app import QUEUE_FOR_PRIORITY
from config.celery_app import app as celery_app
from notifications.models import CLAIMABLE, Delivery
from realtime.events import publish_batch
from realtime.groups import workspace_group

logger = logging.getLogger(__name__)
DELIVER_TASK = "notifications.deliver"
BATCH_TASK = "notifications.deliver_batch"


def event_data(delivery: Delivery) -> dict:
    return {
        "delivery_id": str(delivery.pk),
        "notification_id": str(delivery.notification_id),
        "workspace_id": delivery.workspace_id,
        "channel": delivery.channel_kind,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "error_code": delivery.error_code,
    }


def announce(deliveries: Iterable[Delivery]) -> None:
    """`notification.delivery.<status>` for each, now."""
    publish_batch(
        (f"notification.delivery.{d.status}", event_data(d), [workspace_group(d.workspace_id)])
        for d in deliveries
    )


def send(items: list[tuple[str, str, datetime | None]]) -> None:
    """Publish the deliveries (id, priority, eta): those due at the same time on the same
    queue go in batches of up to NOTIFICATIONS_DELIVERY_BATCH per message (one claim and one
    outcome write per batch on the worker), a lone one as a message of its own. A broker that
    is down leaves the rows queued; the sweep hands them over again."""
    groups: dict[tuple[str, datetime | None], list[str]] = {}
    for delivery_id, priority, eta in items:
        groups.setdefault((QUEUE_FOR_PRIORITY.get(priority, "default"), eta), []).append(
            delivery_id
        )
    size = max(1, settings.NOTIFICATIONS_DELIVERY_BATCH)
    try:
        with celery_app.producer_or_acquire() as producer:
            for (queue, eta), ids in groups.items():
                for first in range(0, len(ids), size):
                    chunk = ids[first : first + size]
                    celery_app.send_task(
                        BATCH_TASK if len(chunk) > 1 else DELIVER_TASK,
                        args=[chunk if len(chunk) > 1 else chunk[0]],
                        queue=queue,
                        routing_key=queue,
                        eta=eta,
                        producer=producer,
                        ignore_result=True,
                    )
    except Exception:
        logger.exception("could not hand %d notification deliveries to the broker", len(items))


def on_commit(deliveries: list[Delivery], *, priority_of: dict) -> None:
    """After the transaction commits: announce the rows and send the claimable ones (on the
    queue of their notification's priority: `priority_of` maps notification id to it)."""
    now = timezone.now()
    items = [
        (
            str(d.pk),
            priority_of.get(d.notification_id, "normal"),
            d.next_attempt_at if d.next_attempt_at and d.next_attempt_at > now else None,
        )
        for d in deliveries
        if d.status in CLAIMABLE
    ]
    rows = list(deliveries)

    def deliver():
        announce(rows)
        if items:
            send(items)

    transaction.on_commit(deliver)


def later(delivery: Delivery, priority: str, eta: datetime) -> None:
    transaction.on_commit(partial(send, [(str(delivery.pk), priority, eta)]))
