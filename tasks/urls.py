from django.urls import path
from rest_framework.routers import SimpleRouter

from tasks import api

# Collected into the project's one router (config/api/router.py): types/, tasks/, tasks/{id}/
# and every action with a trailing slash.
router = SimpleRouter()
router.register("background/types", api.TaskTypeViewSet, basename="background-type")
router.register("background/tasks", api.TaskViewSet, basename="background-task")


def _action(name: str, *, detail: bool):
    return api.TaskViewSet.as_view({"post": name}, detail=detail, basename="background-task")


# The brief's paths, without the trailing slash (a POST cannot follow a redirect).
urlpatterns = [
    path("background/tasks/submit", _action("submit", detail=False)),
    path("background/tasks/bulk-submit", _action("bulk_submit", detail=False)),
    path("background/tasks/bulk-cancel", _action("bulk_cancel", detail=False)),
    path("background/tasks/<uuid:pk>/cancel", _action("cancel", detail=True)),
    path("background/tasks/<uuid:pk>/retry", _action("retry", detail=True)),
    path("background/service/stats", api.ServiceStatsView.as_view(), name="background-stats"),
    path("background/service/workers", api.WorkersView.as_view(), name="background-workers"),
    path("background/service/workers/pool", api.PoolView.as_view(), name="background-pool"),
    path(
        "background/service/workers/consumers",
        api.ConsumerView.as_view(),
        name="background-consumers",
    ),
]
