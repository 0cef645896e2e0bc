"""Analytics endpoints under /api/v3/advanced/analytics/ and the cache's under
/api/v3/advanced/cache/: parse the window, call a selector or service, render."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.scoping import Actor
from analytics import insights, selectors
from analytics.window import TIME_RANGES, parse_window

WINDOW_PARAMETERS = [
    OpenApiParameter("time_range", str, enum=list(TIME_RANGES), description="Default: day."),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="Start (overrides time_range)."),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="End; default now."),
    OpenApiParameter("workspace", int, description="One of your workspaces; default all."),
    OpenApiParameter("workflow", int, description="One workflow."),
]


class AnalyticsView(APIView):
    def window(self, request):
        return parse_window(request.query_params, Actor.from_request(request))


class SummaryView(AnalyticsView):
    """Runs, steps, tokens, cost, breakdowns and background tasks over a window."""

    @extend_schema(parameters=WINDOW_PARAMETERS, responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(selectors.summary(self.window(request)))


class TimeseriesView(AnalyticsView):
    """One metric per hour, day or week bucket; buckets without runs are zero (or null for
    duration_p95)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("metric", str, enum=list(selectors.METRICS), required=True),
            OpenApiParameter(
                "bucket", str, enum=list(selectors.BUCKETS), description="Default: hour."
            ),
            *WINDOW_PARAMETERS,
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        window = self.window(request)
        return Response(
            selectors.timeseries(
                window,
                metric=request.query_params.get("metric", "runs"),
                bucket=request.query_params.get("bucket", "hour"),
            )
        )


class InsightsView(AnalyticsView):
    """Findings over the window, ranked, each with its evidence and subject."""

    @extend_schema(parameters=WINDOW_PARAMETERS, responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        window = self.window(request)
        found = insights.insights(window)
        return Response({"window": window.describe(), "count": len(found), "results": found})
