"""Analytics' verbs: live pushes, reports, cache management."""

import logging

from django.utils import timezone

from analytics import selectors
from analytics.window import system_window
from realtime.events import publish
from realtime.groups import workspace_group

logger = logging.getLogger(__name__)


def current_hour_counters(workspace_id: int) -> dict:
    """The summary's run figures for the current (UTC) hour of one workspace."""
    now = timezone.now()
    window = system_window(
        since=now.replace(minute=0, second=0, microsecond=0),
        until=now,
        workspace_ids=[workspace_id],
    )
    figures = selectors.run_figures(window)
    return {"workspace_id": workspace_id, "window": window.describe(), **figures}


def push_live_counters(*, workspace_id: int) -> dict:
    """Publish `analytics.updated` with the current hour's counters to the workspace topic."""
    from django.core.cache import cache

    from analytics.live import PUSH_KEY

    data = current_hour_counters(workspace_id)
    publish("analytics.updated", data, groups=[workspace_group(workspace_id)])
    try:  # the period is over: the next run event schedules the next push
        cache.delete(PUSH_KEY.format(workspace_id))
    except Exception as exc:
        logger.debug("analytics push key not cleared: %s", exc)
    return data
