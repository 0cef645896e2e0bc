from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from workflows.api import runs

# Collected into the project's one router (config/api/router.py); urlpatterns adds the rest.
router = SimpleRouter()

# --- Runs (the engine) ----------------------------------------------------------------------
router.register("runs", runs.RunViewSet, basename="run")


def _run_action(action: str, suffix: str):
    # The brief's paths have no trailing slash; one is accepted too.
    view = runs.RunViewSet.as_view({"post": action})
    return re_path(rf"^runs/(?P<pk>\d+)/{suffix}/?$", view, name=f"run-{action}")


run_patterns = [
    path("workflows/<int:workflow_pk>/runs/", runs.StartRunView.as_view(), name="workflow-runs"),
    path("advanced/workflows/execute", runs.ExecuteView.as_view(), name="workflow-execute"),
    _run_action("cancel", "cancel"),
    _run_action("retry", "retry"),
    _run_action("rerun", "rerun"),
    _run_action("approve", r"steps/(?P<key>[a-z][a-z0-9_]{0,63})/approve"),
    _run_action("reject", r"steps/(?P<key>[a-z][a-z0-9_]{0,63})/reject"),
]

urlpatterns = [*run_patterns]
