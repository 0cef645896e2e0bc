"""Workflows URLs under /api/v3/. `router` joins the project's one router
(config/api/router.py); `urlpatterns` holds the nested and non-slash paths (included before
the router, so `workflows/import` is never read as a workflow id).

Sections: authoring (workflows, steps, versions, schedules, import/export, analytics),
documents, budgets, runs (the engine's)."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from workflows.api import budgets, documents, exports, runs
from workflows.api import workflows as authoring_api

router = SimpleRouter()


def _path(route: str, view, name: str):
    """`route` with or without a trailing slash."""
    return re_path(rf"^{route}/?$", view, name=name)


# --- Authoring ------------------------------------------------------------------------------
router.register("workflows", authoring_api.WorkflowViewSet, basename="workflow")

_steps = authoring_api.StepViewSet
_versions = authoring_api.VersionViewSet
_schedules = authoring_api.ScheduleViewSet
_workflows = authoring_api.WorkflowViewSet
_DETAIL = {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
WF = r"workflows/(?P<workflow_pk>\d+)"

authoring_patterns = [
    _path("workflows/import", authoring_api.WorkflowImportView.as_view(), "workflow-import"),
    _path(
        r"workflows/(?P<pk>\d+)/export", _workflows.as_view({"get": "export"}), "workflow-export"
    ),
    _path(
        r"workflows/(?P<pk>\d+)/analytics",
        _workflows.as_view({"get": "analytics"}),
        "workflow-analytics",
    ),
    _path(
        r"workflows/(?P<pk>\d+)/suggested-inputs",
        _workflows.as_view({"get": "suggested_inputs"}),
        "workflow-suggested-inputs",
    ),
    re_path(
        rf"^{WF}/steps/$", _steps.as_view({"get": "list", "post": "create"}), name="workflow-steps"
    ),
    # No trailing slash: a step may be called "reorder", and steps/reorder/ is that step.
    re_path(
        rf"^{WF}/steps/reorder$", _steps.as_view({"post": "reorder"}), name="workflow-steps-reorder"
    ),
    re_path(
        rf"^{WF}/steps/(?P<key>[a-z][a-z0-9_]*)/$", _steps.as_view(_DETAIL), name="workflow-step"
    ),
    re_path(rf"^{WF}/versions/$", _versions.as_view({"get": "list"}), name="workflow-versions"),
    re_path(
        rf"^{WF}/versions/(?P<version>\d+)/$",
        _versions.as_view({"get": "retrieve"}),
        name="workflow-version",
    ),
    re_path(
        rf"^{WF}/schedules/$",
        _schedules.as_view({"get": "list", "post": "create"}),
        name="workflow-schedules",
    ),
    re_path(
        rf"^{WF}/schedules/(?P<pk>\d+)/$",
        _schedules.as_view(_DETAIL),
        name="workflow-schedule",
    ),
]

# --- Documents ------------------------------------------------------------------------------
router.register("documents", documents.DocumentViewSet, basename="document")

document_patterns = [
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
]

# --- Budgets --------------------------------------------------------------------------------
budget_patterns = [
    _path(r"workspaces/(?P<workspace_pk>\d+)/budget", budgets.BudgetView.as_view(), "budget"),
]

# --- Runs (engine) --------------------------------------------------------------------------
router.register("runs", runs.RunViewSet, basename="run")
RUN = r"runs/(?P<pk>\d+)"
STEP_KEY = r"(?P<key>[a-z][a-z0-9_]{0,63})"

run_patterns = [
    re_path(
        r"^workflows/(?P<workflow_pk>\d+)/runs/$",
        runs.StartRunView.as_view(),
        name="workflow-runs",
    ),
    _path("advanced/workflows/execute", runs.ExecuteView.as_view(), "workflow-execute"),
    _path(f"{RUN}/cancel", runs.RunViewSet.as_view({"post": "cancel"}), "run-cancel"),
    _path(f"{RUN}/retry", runs.RunViewSet.as_view({"post": "retry"}), "run-retry"),
    _path(f"{RUN}/rerun", runs.RunViewSet.as_view({"post": "rerun"}), "run-rerun"),
    _path(
        f"{RUN}/steps/{STEP_KEY}/approve",
        runs.RunViewSet.as_view({"post": "approve"}),
        "run-step-approve",
    ),
    _path(
        f"{RUN}/steps/{STEP_KEY}/reject",
        runs.RunViewSet.as_view({"post": "reject"}),
        "run-step-reject",
    ),
    _path(
        r"exports/(?P<workspace_pk>\d+)/(?P<name>[a-z0-9-]+\.zip)",
        exports.ExportDownloadView.as_view(),
        "export-download",
    ),
]

urlpatterns = [*authoring_patterns, *document_patterns, *budget_patterns, *run_patterns]
