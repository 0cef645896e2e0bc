"""Publishing events: the only way any app sends something to WebSocket clients.

An event is `{"type", "id", "ts", "data"}`. It travels through the channel layer to groups
(see `realtime.groups`) in a message of type `realtime.event`: `{"events": [...], "group"}`,
the events of one handover for that group, in order, which consumers forward as they are. The
message names the group it was sent to, so a consumer that has just left that group drops it.
Works from a web process, a Celery worker, a management command or a test. Sync code
hands events to a per-process publisher (`realtime.publisher`) and does not wait. Delivery is
at-most-once: clients that reconnect get a snapshot from the database instead.
"""

import logging
import random
from collections.abc import Iterable
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction
from django.utils import timezone

from config.safejson import json_safe
from realtime.publisher import DRAIN_TIMEOUT_SECONDS, publisher
from realtime.sinks import (
    CHANNEL_MESSAGE_TYPE,  # noqa: F401 - consumers and tests read it from here
    Batch,
    send_batch,
)

logger = logging.getLogger(__name__)


def make_event(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": event_type,
        # 128 random bits as 32 hex digits (uuid4().hex's shape). `random` is reseeded in
        # every forked child and makes no system call: uuid4's os.urandom lets go of the GIL,
        # and with the publisher's thread running, taking it back made a publish 24 us, not 13.
        "id": f"{random.getrandbits(128):032x}",
        "ts": timezone.now().isoformat(),
        "data": json_safe(data),
    }


async def apublish(event_type: str, data: dict[str, Any], *, groups: Iterable[str]) -> dict:
    """Send an event to every group; from async code (consumers)."""
    event = make_event(event_type, data)
    layer = get_channel_layer()
    if layer is not None:
        await send_batch(layer, [(event, list(groups))])
    return event


def publish(event_type: str, data: dict[str, Any], *, groups: Iterable[str]) -> dict:
    """Send an event from sync code, without waiting for the channel layer: it is handed to
    this process's publisher, which sends a process's events in the order they were
    published. A channel layer that is down is logged, not raised: the database stays the
    truth, and clients recover it from snapshots. Returns the event."""
    event = make_event(event_type, data)
    _send([(event, list(groups))], event_type)
    return event


def publish_batch(
    items: Iterable[tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], Iterable[str]]],
    *,
    groups: Iterable[str] = (),
) -> list[dict]:
    """`publish` for many events in one handover, in order. Each item is
    `(event_type, data)`, sent to `groups`, or `(event_type, data, its_groups)`."""
    groups = list(groups)
    batch = []
    for event_type, data, *own in items:
        batch.append((make_event(event_type, data), list(own[0]) if own else groups))
    if batch:
        _send(batch, batch[0][0]["type"])
    return [event for event, _ in batch]


def publish_on_commit(event_type: str, data: dict[str, Any], *, groups: Iterable[str]) -> None:
    """Send the event once the current transaction commits (at once outside a transaction),
    so nobody hears of a row that was rolled back."""
    transaction.on_commit(partial(publish, event_type, data, groups=list(groups)))


def drain(timeout: float = DRAIN_TIMEOUT_SECONDS) -> bool:
    """Wait until every event this process has published is sent (tests, commands that
    report what they sent); False if `timeout` passed first. Also done at exit."""
    return publisher.drain(timeout)


def _send(batch: Batch, event_type: str) -> None:
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        if isinstance(layer, InMemoryChannelLayer):
            # The in-memory layer (unit tests only) keeps asyncio queues that belong to the
            # loop that reads them; filled from the publisher's thread they would wake no
            # one. Deliver at once, as tests expect to read right after publishing.
            async_to_sync(send_batch)(layer, batch)
        else:
            publisher.send(layer, batch)
    except Exception:
        logger.warning("realtime publish failed", exc_info=True, extra={"event": event_type})
