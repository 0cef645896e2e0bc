"""The response cache: identical requests (workspace, model, messages, parameters) within the
workspace's TTL are answered from the `ai` cache alias (CACHE_URL: Redis by default; local
memory or a directory for a single process). A cache that is down is a miss, never a failed
call.

Keys are `<AI_CACHE_PREFIX>:resp:<workspace>:<generation>:<digest>`. Clearing a workspace's
replies bumps its generation (every backend can do that; old entries then expire unread) and,
on Redis, also deletes its keys. Hits and misses are counted per workspace in the same cache.
"""

import hashlib
import json
import logging

from django.conf import settings
from django.core.cache import caches

logger = logging.getLogger(__name__)

ALIAS = "ai"


def backend():
    return caches[ALIAS]


def ttl_for(workspace_id) -> int:
    """Seconds a reply is kept for this workspace: its own setting, else AI_CACHE_TTL."""
    try:
        from ai.models import WorkspaceCacheSettings

        row = WorkspaceCacheSettings.objects.filter(workspace_id=workspace_id).first()
    except Exception:  # a settings read never fails a call
        row = None
    if row is not None and row.ttl_seconds is not None:
        return row.ttl_seconds
    return settings.AI_CACHE_TTL


def _generation_key(workspace_id) -> str:
    return f"{settings.AI_CACHE_PREFIX}:gen:{workspace_id}"


def stats_key(workspace_id, what: str) -> str:
    return f"{settings.AI_CACHE_PREFIX}:stats:{workspace_id}:{what}"


def generation(workspace_id) -> int:
    try:
        return int(backend().get(_generation_key(workspace_id)) or 0)
    except Exception as exc:
        _outage.failed("get", exc)
        return 0


def key_pattern(workspace_id="*") -> str:
    return f"{settings.AI_CACHE_PREFIX}:resp:{workspace_id}:*"


def key_for(workspace_id, model, messages, temperature, max_tokens, schema) -> str | None:
    """The key of this request, or None when the workspace's TTL turns its cache off."""
    if ttl_for(workspace_id) <= 0:
        return None
    blob = json.dumps(
        [model, messages, temperature, max_tokens, schema],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    digest = hashlib.sha256(blob.encode()).hexdigest()
    gen = generation(workspace_id)
    return f"{settings.AI_CACHE_PREFIX}:resp:{workspace_id}:{gen}:{digest}"


def _workspace_of(key: str) -> str:
    return key.split(":")[-3]


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


def _count(workspace_id, what: str) -> None:
    key = stats_key(workspace_id, what)
    cache = backend()
    if not cache.add(key, 1, timeout=None):
        try:
            cache.incr(key)
        except ValueError:  # expired or cleared between add and incr
            cache.add(key, 1, timeout=None)


def get(key: str | None) -> dict | None:
    if key is None:
        return None
    try:
        value = backend().get(key)
        _count(_workspace_of(key), "hits" if value is not None else "misses")
    except Exception as exc:  # a dead cache is a miss, never a failed call
        _outage.failed("get", exc)
        return None
    _outage.worked()
    return value


def put(key: str | None, value: dict) -> None:
    if key is None:
        return
    try:
        backend().set(key, value, timeout=ttl_for(_workspace_of(key)))
    except Exception as exc:
        _outage.failed("set", exc)
        return
    _outage.worked()


def counters(workspace_id) -> dict:
    cache = backend()
    found = cache.get_many([stats_key(workspace_id, "hits"), stats_key(workspace_id, "misses")])
    hits = int(found.get(stats_key(workspace_id, "hits")) or 0)
    misses = int(found.get(stats_key(workspace_id, "misses")) or 0)
    return {
        "hits": hits,
        "misses": misses,
        "hit_rate": round(hits / (hits + misses), 4) if hits + misses else None,
    }


def clear_workspace(workspace_id) -> int | None:
    """Forget a workspace's replies and counters; the number of keys deleted (None when the
    backend cannot list keys: its entries are orphaned by the new generation instead)."""
    cache = backend()
    gen_key = _generation_key(workspace_id)
    if not cache.add(gen_key, 1, timeout=None):
        cache.incr(gen_key)
    cache.delete_many([stats_key(workspace_id, "hits"), stats_key(workspace_id, "misses")])
    from ai import cache_inspect

    return cache_inspect.delete_matching(cache, key_pattern(workspace_id))
