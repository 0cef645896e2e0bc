"""Publishing events: the only way any app sends something to WebSocket clients.

An event is `{"type", "id", "ts", "data"}`. It travels through the channel layer to groups
(see `realtime.groups`) as a message of type `realtime.event`, which consumers forward as is;
the message also names the group it was sent to, so a consumer that has just left that group
drops it.
Works from a web process, a Celery worker, a management command or a test. Delivery is
at-most-once: clients that reconnect get a snapshot from the database instead.
"""

import logging
import uuid
from collections.abc import Iterable
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

CHANNEL_MESSAGE_TYPE = "realtime.event"


def make_event(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": event_type,
        "id": uuid.uuid4().hex,
        "ts": timezone.now().isoformat(),
        "data": _json_safe(data),
    }


def _json_safe(data: dict[str, Any]) -> dict[str, Any]:
    # Dates, decimals and UUIDs become strings now, so every transport can carry the event.
    import json

    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


async def apublish(event_type: str, data: dict[str, Any], *, groups: Iterable[str]) -> dict:
    """Send an event to every group; from async code (consumers)."""
    event = make_event(event_type, data)
    layer = get_channel_layer()
    if layer is None:
        return event
    for group in dict.fromkeys(groups):  # unique, in order
        await layer.group_send(
            group, {"type": CHANNEL_MESSAGE_TYPE, "event": event, "group": group}
        )
    return event


def publish(event_type: str, data: dict[str, Any], *, groups: Iterable[str]) -> dict | None:
    """Send an event now, from sync code. A channel layer that is down is logged, not raised:
    the database stays the truth, and clients recover it from snapshots."""
    try:
        return async_to_sync(apublish)(event_type, data, groups=list(groups))
    except Exception:
        logger.warning("realtime publish failed", exc_info=True, extra={"event": event_type})
        return None


def publish_on_commit(event_type: str, data: dict[str, Any], *, groups: Iterable[str]) -> None:
    """Send the event once the current transaction commits (at once outside a transaction),
    so nobody hears of a row that was rolled back."""
    transaction.on_commit(partial(publish, event_type, data, groups=list(groups)))
