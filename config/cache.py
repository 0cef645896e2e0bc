"""Our Redis cache backends.

`RedisCache`: Django's, keeping one redis client per connection pool. Django's builds a new
`redis.Redis` (which copies ~170 response callbacks) for every cache operation: a few hundred
microseconds of CPU each time, on paths such as an engine step that ask the cache every time.

`FailOpenRedisCache`: the rate limiter's cache, fail-open when Redis does not answer.

Decision: rate limits (login, registration, AI generation; django-ratelimit) fail OPEN. A login
with the right password must not fail because a counter cannot be counted, and the protection
that matters for passwords, the lockout after failed attempts, is kept in the database, not in
Redis. While Redis is down requests are not counted; each failure is logged. (Security checks
that must fail CLOSED, such as a revoked session, never read this cache.)

django-ratelimit catches only memcached's failure modes; here every Redis error becomes what it
treats as "could not count" (`add` False, `incr` ValueError, `get` the default), and with
RATELIMIT_FAIL_OPEN it lets the request through.
"""

import logging

from django.core.cache.backends import redis as django_redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class _ReusingClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:  # thread-safe to share: each command takes a pooled connection
            pool = self._get_connection_pool(index)
            client = self._clients[index] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusingClient


def _warn(operation: str, exc: Exception) -> None:
    logger.warning("rate-limit cache unavailable (%s: %s); request not counted", operation, exc)


class FailOpenRedisCache(RedisCache):
    def add(self, key, value, timeout=None, version=None):
        try:
            return super().add(key, value, timeout, version)
        except (RedisError, OSError) as exc:
            _warn("add", exc)
            return False

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except (RedisError, OSError) as exc:
            _warn("incr", exc)
            raise ValueError("rate-limit cache unavailable") from exc

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except (RedisError, OSError) as exc:
            _warn("get", exc)
            return default
