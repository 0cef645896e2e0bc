"""The response cache: identical requests (workspace, model, messages, parameters) within
AI_CACHE_TTL are answered from Redis. A cache that is down is a miss, never a failed call."""

import hashlib
import json
import logging

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


def key_for(workspace_id, model, messages, temperature, max_tokens, schema) -> str:
    blob = json.dumps(
        [model, messages, temperature, max_tokens, schema],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    digest = hashlib.sha256(blob.encode()).hexdigest()
    return f"{settings.AI_CACHE_PREFIX}:resp:{workspace_id}:{digest}"


class _Outage:
    """Whether the cache is known to be down: said once, in one line, until it works again
    (a command run without Redis must stay readable; every call would otherwise log)."""

    down = False

    def failed(self, action: str, exc: Exception) -> None:
        if not self.down:
            logger.warning(
                "AI response cache unavailable (%s: %s: %s); calls go to the model uncached",
                action,
                type(exc).__name__,
                exc,
            )
        self.down = True

    def worked(self) -> None:
        if self.down:
            logger.info("AI response cache available again")
        self.down = False


_outage = _Outage()


def get(key: str | None) -> dict | None:
    if key is None:
        return None
    try:
        value = cache.get(key)
    except Exception as exc:  # a dead cache is a miss, never a failed call
        _outage.failed("get", exc)
        return None
    _outage.worked()
    return value


def put(key: str | None, value: dict) -> None:
    if key is None:
        return
    try:
        cache.set(key, value, timeout=settings.AI_CACHE_TTL)
    except Exception as exc:
        _outage.failed("set", exc)
        return
    _outage.worked()
