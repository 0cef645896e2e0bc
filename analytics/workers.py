"""Which Celery workers are alive, answered from Redis at once.

Every worker's main process sends a heartbeat every 2 s (Celery's `Heart`, on even without
`-E`); on each, it stamps its name into a sorted set. Workers stamped within
ANALYTICS_WORKER_TTL_SECONDS are alive. This replaces a broadcast ping, which always waits its
full timeout (about 1 s) because nobody knows how many replies to expect.
"""

import logging
import time

import redis
from celery.signals import heartbeat_sent, worker_ready, worker_shutdown
from django.conf import settings

from config import redisconn

logger = logging.getLogger(__name__)


def _key() -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', 'docchain')}:workers"


def _client() -> redis.Redis:
    return redisconn.client()


def stamp(hostname: str) -> None:
    client = _client()
    try:
        client.zadd(_key(), {hostname: time.time()})
    finally:
        client.close()


def alive_workers() -> list[str]:
    client = _client()
    try:
        cutoff = time.time() - settings.ANALYTICS_WORKER_TTL_SECONDS
        client.zremrangebyscore(_key(), "-inf", cutoff)
        return sorted(name.decode() for name in client.zrange(_key(), 0, -1))
    finally:
        client.close()


@heartbeat_sent.connect(dispatch_uid="analytics.workers.heartbeat")
def _on_heartbeat(sender=None, **kwargs) -> None:
    hostname = getattr(getattr(sender, "eventer", None), "hostname", None)
    if hostname:
        try:
            stamp(hostname)
        except Exception as exc:  # Redis down: health says so; the worker carries on
            logger.debug("worker heartbeat not stamped: %s", exc)


@worker_ready.connect(dispatch_uid="analytics.workers.ready")
def _on_ready(sender=None, **kwargs) -> None:
    hostname = getattr(sender, "hostname", None)
    if hostname:
        try:
            stamp(hostname)
        except Exception as exc:
            logger.debug("worker start not stamped: %s", exc)


@worker_shutdown.connect(dispatch_uid="analytics.workers.shutdown")
def _on_shutdown(sender=None, **kwargs) -> None:
    hostname = getattr(sender, "hostname", None)
    if not hostname:
        return
    client = _client()
    try:
        client.zrem(_key(), hostname)
    except Exception as exc:
        logger.debug("worker stop not recorded: %s", exc)
    finally:
        client.close()
