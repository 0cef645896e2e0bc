"""Background tasks under /api/v3/background/. `router` joins the project's one router
(config/api/router.py) for types/ and tasks/ (list and detail); `urlpatterns` holds the verbs
at the brief's paths, with or without a trailing slash (included before the router)."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from tasks import api

router = SimpleRouter()
router.register("background/types", api.TaskTypeViewSet, basename="background-type")
router.register("background/tasks", api.TaskViewSet, basename="background-task")

TASK = rf"background/tasks/(?P<pk>{api.UUID_PATTERN})"


def _path(route: str, view, name: str):
    """`route` with or without a trailing slash (a POST cannot follow a redirect)."""
    return re_path(rf"^{route}/?$", view, name=name)


def _verb(method: str, *, detail: bool):
    return api.TaskViewSet.as_view({"post": method}, detail=detail, basename="background-task")


urlpatterns = [
    _path("background/tasks/submit", _verb("submit", detail=False), "background-task-submit"),
    _path(
        "background/tasks/bulk-submit",
        _verb("bulk_submit", detail=False),
        "background-task-bulk-submit",
    ),
    _path(
        "background/tasks/bulk-cancel",
        _verb("bulk_cancel", detail=False),
        "background-task-bulk-cancel",
    ),
    _path(f"{TASK}/cancel", _verb("cancel", detail=True), "background-task-cancel"),
    _path(f"{TASK}/retry", _verb("retry", detail=True), "background-task-retry"),
    _path("background/service/stats", api.ServiceStatsView.as_view(), "background-stats"),
    _path("background/service/workers", api.WorkersView.as_view(), "background-workers"),
    _path("background/service/workers/pool", api.PoolView.as_view(), "background-pool"),
    _path(
        "background/service/workers/consumers",
        api.ConsumerView.as_view(),
        "background-consumers",
    ),
]
