"""Whether the broker's Redis lost its data: its queued messages with it.

Redis keeps nothing on disk here (the default for this service): restarted, it comes back
empty, and every message that was waiting in it is gone. Each recovery job (the engine's
lease sweep, the background tasks' recovery) keeps a marker key of its own in the broker's
Redis; only a Redis that lost its data lacks it, so the job then resends everything it had
queued. Duplicate messages are harmless wherever this is used: claims are conditional.
"""

import logging

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
