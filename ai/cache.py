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


def get(key: str | None) -> dict | None:
    if key is None:
        return None
    try:
        return cache.get(key)
    except Exception:  # a dead cache is a miss, never a failed call
        logger.warning("AI response cache unavailable (get)", exc_info=True)
        return None


def put(key: str | None, value: dict) -> None:
    if key is None:
        return
    try:
        cache.set(key, value, timeout=settings.AI_CACHE_TTL)
    except Exception:
        logger.warning("AI response cache unavailable (set)", exc_info=True)
