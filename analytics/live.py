"""Live figures: the engine's committed events drive the Prometheus step metrics and, at most
once every ANALYTICS_PUSH_SECONDS per workspace, an `analytics.updated` event on the
workspace topic with the current hour's counters (so the dashboard moves without polling).

The throttle is a key added to the shared cache (Redis) with that TTL: the first run event of
a quiet workspace adds it and schedules one push for the end of the period (a Celery task with
a countdown); later events in the period find the key and do nothing. The push reads the
database when it runs, so it carries everything that happened in the period, from any process.
"""

import logging

from django.conf import settings
from django.core.cache import cache
from django.dispatch import receiver

from analytics import metrics
from workflows.signals import engine_events_committed

logger = logging.getLogger(__name__)

PUSH_KEY = "analytics:push:{}"


@receiver(engine_events_committed, dispatch_uid="analytics.live")
def on_engine_events(sender, *, workspace_id=None, events=(), **kwargs) -> None:
    metrics.observe_engine_events(events)
    if not settings.ANALYTICS_LIVE_PUSH:
        return
    if workspace_id is not None and any(kind.startswith("run.") for kind, _ in events):
        schedule_push(workspace_id)


def schedule_push(workspace_id: int) -> bool:
    """Schedule one push for this period unless one is already due; True if it scheduled."""
    period = settings.ANALYTICS_PUSH_SECONDS
    try:
        if not cache.add(PUSH_KEY.format(workspace_id), 1, timeout=max(1, round(period))):
            return False
        from analytics.tasks import push_live_counters

        push_live_counters.apply_async(args=[workspace_id], countdown=period)
    except Exception as exc:  # live figures are a nicety: never fail the engine for them
        logger.warning("analytics push not scheduled: %s: %s", type(exc).__name__, exc)
        return False
    return True
