"""Our Redis cache backends.

`RedisCache`: Django's, with one redis client and connection pool per server for the whole
process. Django's builds a new `redis.Redis` (which copies ~170 response callbacks) for every
cache operation: a few hundred microseconds of CPU each time, on paths such as an engine step
that ask the cache every time. And it keeps its pools on the cache instance, of which Django
makes one per thread: under ASGI every request runs in a thread of its own, so every request
opened new Redis connections (connect, handshake, redis-py's version lookup in the installed
packages' metadata), a third of the list API's busy time under 50 clients (py-spy).

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
import threading

from django.core.cache.backends import redis as django_redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Clients by (server, pool class, pool options), shared by every cache instance of the process.
# A redis client is thread-safe (each command takes a pooled connection), and its pool starts
# afresh in a forked child (redis-py checks the pid).
_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


class _ReusingClient(django_redis.RedisCacheClient):
    def get_client(self, key=None, *, write=False):
        server = self._servers[self._get_connection_pool_index(write)]
        shared = (server, self._pool_class, repr(sorted(self._pool_options.items())))
        client = _clients.get(shared)
        if client is None:
            with _clients_lock:
                client = _clients.get(shared)
                if client is None:
                    pool = self._pool_class.from_url(server, **self._pool_options)
                    client = _clients[shared] = self._client(connection_pool=pool)
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
