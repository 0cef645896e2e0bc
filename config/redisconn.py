"""Clients for the app's own Redis keys (REDIS_URL unless told otherwise), in one place for
their time-outs: a Redis that stops answering (hung, or a network that drops replies) is an
error after TIMEOUT_SECONDS (a 503 from the API, a logged warning in a job), not after
redis-py's default of 5 s per read (the WebSocket stats read several keys; one request took
6.4 s to fail). The cache, the channel layer and the broker configure their own clients."""

import redis
import redis.asyncio as aioredis
from django.conf import settings

TIMEOUT_SECONDS = 2.0


def client(url: str | None = None, *, timeout: float = TIMEOUT_SECONDS) -> redis.Redis:
    return redis.Redis.from_url(
        url or settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout
    )


def async_client(url: str | None = None, *, timeout: float = TIMEOUT_SECONDS) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        url or settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout
    )
