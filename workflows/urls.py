"""Workflows URLs under /api/v3/. `router` joins the project's one router
(config/api/router.py); the nested router (drf-nested-routers) serves a workflow's steps,
versions and schedules; `urlpatterns` holds the rest: actions whose trailing slash is optional,
and `steps/reorder`, which takes none (a step may be called "reorder", and
`steps/reorder/` is that step). They are included before the router, so `workflows/import` is
never read as a workflow id."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter
from rest_framework_nested.routers import NestedSimpleRouter

from workflows.api import budgets, documents, exports, runs
from workflows.api import workflows as authoring_api

router = SimpleRouter()
router.register("workflows", authoring_api.WorkflowViewSet, basename="workflow")
router.register("documents", documents.DocumentViewSet, basename="document")
router.register("runs", runs.RunViewSet, basename="run")

# /workflows/{workflow_pk}/steps/, /versions/, /schedules/ and their details.
workflow_router = NestedSimpleRouter(router, "workflows", lookup="workflow")
workflow_router.register("steps", authoring_api.StepViewSet, basename="workflow-step")
workflow_router.register("versions", authoring_api.VersionViewSet, basename="workflow-version")
workflow_router.register("schedules", authoring_api.ScheduleViewSet, basename="workflow-schedule")


def _path(route: str, view, name: str):
    """`route` with or without a trailing slash."""
    return re_path(rf"^{route}/?$", view, name=name)


WORKFLOW = r"workflows/(?P<pk>\d+)"
RUN = r"runs/(?P<pk>\d+)"
STEP_KEY = r"(?P<key>[a-z][a-z0-9_]{0,63})"
_workflows = authoring_api.WorkflowViewSet
_runs = runs.RunViewSet

urlpatterns = [
    # Authoring
    _path(
        "workflows/definition-schema",
        authoring_api.DefinitionSchemaView.as_view(),
        "workflow-definition-schema",
    ),
    _path("workflows/import", authoring_api.WorkflowImportView.as_view(), "workflow-import"),
    _path(f"{WORKFLOW}/export", _workflows.as_view({"get": "export"}), "workflow-export"),
    _path(f"{WORKFLOW}/analytics", _workflows.as_view({"get": "analytics"}), "workflow-analytics"),
    _path(
        f"{WORKFLOW}/suggested-inputs",
        _workflows.as_view({"get": "suggested_inputs"}),
        "workflow-suggested-inputs",
    ),
    re_path(
        r"^workflows/(?P<workflow_pk>\d+)/steps/reorder$",
        authoring_api.StepViewSet.as_view({"post": "reorder"}),
        name="workflow-steps-reorder",
    ),
    # Documents
    _path(
        r"documents/(?P<pk>\d+)/lineage",
        documents.DocumentViewSet.as_view({"get": "lineage"}),
        "document-lineage",
    ),
    re_path(
        r"^runs/(?P<run_pk>\d+)/documents/$",
        documents.RunDocumentViewSet.as_view({"get": "list"}),
        name="run-documents",
    ),
    # Budgets
    _path(r"workspaces/(?P<workspace_pk>\d+)/budget", budgets.BudgetView.as_view(), "budget"),
    # Runs (the engine)
    re_path(
        r"^workflows/(?P<workflow_pk>\d+)/runs/$", runs.StartRunView.as_view(), name="workflow-runs"
    ),
    _path("advanced/workflows/execute", runs.ExecuteView.as_view(), "workflow-execute"),
    _path(f"{RUN}/cancel", _runs.as_view({"post": "cancel"}), "run-cancel"),
    _path(f"{RUN}/retry", _runs.as_view({"post": "retry"}), "run-retry"),
    _path(f"{RUN}/rerun", _runs.as_view({"post": "rerun"}), "run-rerun"),
    _path(f"{RUN}/steps/{STEP_KEY}/approve", _runs.as_view({"post": "approve"}), "run-approve"),
    _path(f"{RUN}/steps/{STEP_KEY}/reject", _runs.as_view({"post": "reject"}), "run-reject"),
    _path(
        r"exports/(?P<workspace_pk>\d+)/(?P<name>[a-z0-9-]+\.zip)",
        exports.ExportDownloadView.as_view(),
        "export-download",
    ),
    *workflow_router.urls,
]
