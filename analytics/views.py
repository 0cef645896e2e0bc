"""The project's pages and plain views of analytics: /metrics and /dashboard/."""

from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from analytics import access, metrics
from config.api.exceptions import error_response


@require_GET
def metrics_view(request):
    """Prometheus text exposition; for METRICS_TOKEN holders and METRICS_ALLOWED_IPS."""
    if not access.may_scrape(request):
        return error_response(
            403,
            "metrics_forbidden",
            "Metrics need the metrics bearer token or an allowed address.",
        )
    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)


RANGE_BUCKET = {"hour": "hour", "day": "hour", "week": "day", "month": "day"}
CHART_METRICS = ("runs", "failures", "cost", "tokens")


def dashboard_data(actor, workspace_id: int, time_range: str) -> dict:
    from analytics import insights, selectors
    from analytics.window import parse_window

    window = parse_window({"time_range": time_range, "workspace": workspace_id}, actor)
    bucket = RANGE_BUCKET[time_range]
    return {
        "workspace_id": workspace_id,
        "time_range": time_range,
        "bucket": bucket,
        "summary": selectors.summary(window),
        "series": {
            metric: selectors.timeseries(window, metric=metric, bucket=bucket)["points"]
            for metric in CHART_METRICS
        },
        "insights": insights.insights(window)[:12],
    }


@require_GET
def dashboard_data_view(request):
    """The dashboard's figures as JSON in one request (the page re-reads them after each
    analytics.updated): ?workspace= (required) and ?time_range=."""
    from accounts.scoping import Actor
    from analytics.window import TIME_RANGES
    from config.errors import NotFound

    if not request.user.is_authenticated:
        return error_response(401, "not_authenticated", "Log in to read the dashboard.")
    time_range = request.GET.get("time_range", "day")
    if time_range not in TIME_RANGES:
        return error_response(400, "invalid_query", f"Unknown time_range; use {list(TIME_RANGES)}.")
    try:
        workspace_id = int(request.GET.get("workspace", ""))
        data = dashboard_data(Actor(request.user), workspace_id, time_range)
    except (ValueError, NotFound):
        return error_response(404, "not_found", "No such workspace among yours.")
    return JsonResponse(data, encoder=DjangoJSONEncoder)


# DRF's session log-in page serves every user (the admin's only staff).
@login_required(login_url=reverse_lazy("rest_framework:login"))
@require_GET
def dashboard(request):
    """The analytics dashboard of one of the user's workspaces (?workspace=, ?time_range=)."""
    from accounts.scoping import Actor, workspaces_for
    from analytics.window import TIME_RANGES

    actor = Actor(request.user)
    workspaces = list(workspaces_for(actor).order_by("-is_personal", "name", "id"))
    chosen = request.GET.get("workspace", "")
    workspace = next((w for w in workspaces if str(w.pk) == chosen), None)
    if workspace is None:
        if chosen:
            return render(request, "dashboard/not_found.html", status=404)
        workspace = workspaces[0] if workspaces else None
    time_range = request.GET.get("time_range", "day")
    if time_range not in TIME_RANGES:
        time_range = "day"
    data = dashboard_data(actor, workspace.pk, time_range) if workspace else None
    return render(
        request,
        "dashboard/index.html",
        {
            "workspaces": workspaces,
            "workspace": workspace,
            "time_range": time_range,
            "time_ranges": list(TIME_RANGES),
            "data": data,
            "ws_path": "/api/v3/ws/ws",
        },
    )
