from django.urls import re_path

from analytics import api


def _path(route: str, view, name: str):
    """`route` with or without a trailing slash."""
    return re_path(rf"^{route}/?$", view, name=name)


urlpatterns = [
    _path("advanced/analytics/summary", api.SummaryView.as_view(), "analytics-summary"),
    _path("advanced/analytics/timeseries", api.TimeseriesView.as_view(), "analytics-timeseries"),
    _path("advanced/analytics/insights", api.InsightsView.as_view(), "analytics-insights"),
]
