from django.urls import re_path
from rest_framework.routers import SimpleRouter

from analytics import api


def _path(route: str, view, name: str):
    """`route` with or without a trailing slash."""
    return re_path(rf"^{route}/?$", view, name=name)


# Joins the project's one router (config/api/router.py).
router = SimpleRouter()
router.register("advanced/analytics/reports", api.ReportViewSet, basename="analytics-report")

urlpatterns = [
    # The list and create answer with or without the trailing slash (the brief's paths have
    # none); detail and CSV come from the router.
    _path(
        "advanced/analytics/reports",
        api.ReportViewSet.as_view({"get": "list", "post": "create"}),
        "analytics-reports",
    ),
    _path("advanced/analytics/summary", api.SummaryView.as_view(), "analytics-summary"),
    _path("advanced/analytics/timeseries", api.TimeseriesView.as_view(), "analytics-timeseries"),
    _path("advanced/analytics/insights", api.InsightsView.as_view(), "analytics-insights"),
    _path("advanced/analytics/users", api.UserActivityView.as_view(), "analytics-users"),
    _path("advanced/cache/stats", api.CacheStatsView.as_view(), "cache-stats"),
    _path("advanced/cache/clear", api.CacheClearView.as_view(), "cache-clear"),
    _path("advanced/cache/settings", api.CacheSettingsView.as_view(), "cache-settings"),
]
