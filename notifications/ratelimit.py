"""Rate limits per workspace and per channel, in one-minute windows on the shared cache, so a
runaway rule cannot send 10,000 SMS. A cache that is down lets sends through (the database
is the truth; the limit is a brake, not a ledger)."""

import logging
import time

from django.conf import settings
from django.core.cache import cache

from notifications.errors import NotificationRateLimited

logger = logging.getLogger(__name__)
WINDOW = 60


def channel_limit(kind: str, configured: int | None) -> int:
    if configured:
        return configured
    limits = settings.NOTIFICATIONS_RATE_PER_CHANNEL
    return int(limits.get(kind, limits.get("default", 120)))


def _take(key: str, count: int, limit: int) -> bool:
    cache.add(key, 0, WINDOW * 2)
    used = cache.incr(key, count)
    if used > limit:
        cache.decr(key, count)
        return False
    return True


def take(*, workspace_id: int, kind: str, channel_id: int | None, limit: int, count: int) -> None:
    """Spend `count` sends of this minute's allowance, or raise NotificationRateLimited."""
    window = int(time.time() // WINDOW)
    retry_after = WINDOW - time.time() % WINDOW
    scope = f"{channel_id}" if channel_id else f"{workspace_id}:{kind}"
    ws_key = f"notify:rl:ws:{workspace_id}:{window}"
    ch_key = f"notify:rl:ch:{scope}:{window}"
    try:
        if not _take(ws_key, count, settings.NOTIFICATIONS_RATE_PER_WORKSPACE):
            raise NotificationRateLimited(
                "The workspace has sent its notifications for this minute.",
                retry_after=retry_after,
                details={"scope": "workspace", "limit": settings.NOTIFICATIONS_RATE_PER_WORKSPACE},
            )
        if not _take(ch_key, count, limit):
            cache.decr(ws_key, count)
            raise NotificationRateLimited(
                f"The {kind} channel has sent its notifications for this minute.",
                retry_after=retry_after,
                details={"scope": "channel", "limit": limit},
            )
    except NotificationRateLimited:
        raise
    except Exception:
        logger.warning(
            "notification rate limit unavailable; letting the send through", exc_info=True
        )
