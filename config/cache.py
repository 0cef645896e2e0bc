"""The rate limiter's cache: fail-open when Redis does not answer.

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

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


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
