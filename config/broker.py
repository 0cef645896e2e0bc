"""The broker's Redis after a fault: whether it lost its data, and giving back the messages
that lost workers had taken.

Redis keeps nothing on disk here (the default for this service): restarted, it comes back
empty, and every message that was waiting in it is gone. Each recovery job (the engine's
lease sweep, the background tasks' recovery) keeps a marker key of its own in the broker's
Redis; only a Redis that lost its data lacks it, so the job then resends everything it had
queued. Duplicate messages are harmless wherever this is used: claims are conditional.
"""

import json
import logging
import time

import redis
from django.conf import settings

from config import redisconn

logger = logging.getLogger(__name__)


def restarted(marker: str) -> bool:
    """True once after the broker's Redis lost its data (or on the first call ever): the
    marker is set if missing. False for a broker that is not Redis, or that does not answer
    (its messages are not lost yet)."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return False
    client = redisconn.client(url)
    try:
        return bool(client.set(marker, "1", nx=True))
    except redis.RedisError:
        logger.warning("the broker does not answer", exc_info=True, extra={"marker": marker})
        return False
    finally:
        client.close()


def restore_orphans(*, older_than: float) -> int:
    """Put back in their queues the messages a worker took from Redis and no live worker
    holds any more; return how many.

    A worker takes up to its prefetch (CELERY_WORKER_PREFETCH_MULTIPLIER per process) ahead
    of what it runs, and with late acknowledgement they stay in the broker's `unacked` hash.
    Killed (-9, a lost host), it can give none of them back: Redis would redeliver them only
    after the visibility timeout (an hour), and the records stay `queued` meanwhile. Taken
    more than `older_than` seconds ago and not held by any worker that answers: restored.
    A live worker that answers too late has its copy delivered once more, which is harmless:
    claims are conditional. RabbitMQ needs none of this (it redelivers a lost consumer's
    messages itself), nor does a broker that does not answer (nothing is restored then)."""
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://", "unix://")):
        return 0
    from config.celery_app import app  # this module is imported before the Celery app is made

    try:
        with app.connection_for_write() as conn:
            channel = conn.default_channel
            client = channel.client
            tags = client.zrangebyscore(channel.unacked_index_key, 0, time.time() - older_than)
            taken = _taken_messages(client, channel.unacked_key, tags)
            if not taken:
                return 0
            held = _held_by_live_workers(app, list(taken.values()))
            restored = 0
            for tag, message_id in taken.items():
                if message_id not in held:  # to the end consumers read first: they are due
                    channel.qos.restore_by_tag(tag, client=client)
                    restored += 1
    except Exception:
        logger.warning("could not restore the messages of lost workers", exc_info=True)
        return 0
    if restored:
        logger.warning("restored %d message(s) that lost workers had taken", restored)
    return restored


def _taken_messages(client, unacked_key: str, tags: list) -> dict:
    """{delivery tag: task id} of the unacked messages under `tags` (still unacked)."""
    if not tags:
        return {}
    taken = {}
    for tag, raw in zip(tags, client.hmget(unacked_key, tags), strict=True):
        if raw is not None:  # acknowledged since the index was read
            message = json.loads(raw)[0]
            taken[tag] = message.get("headers", {}).get("id")
    return taken


def _held_by_live_workers(app, message_ids: list) -> set:
    """The ids among `message_ids` that a worker answering in time holds (running, waiting
    for a process, or waiting for its eta). No answer at all means no live worker. Those not
    found are asked about once more: a live worker's reply is now and then missed (1 call in
    8 here), and the common case (a live worker running a long task) then waits only once."""
    held: set = set()
    for _ in range(2):
        if not (missing := [m for m in message_ids if m not in held]):
            break
        inspect = app.control.inspect(timeout=settings.TASKS_INSPECT_TIMEOUT)
        replies = inspect.query_task(*missing) or {}
        held.update(message_id for tasks in replies.values() for message_id in tasks)
    return held
