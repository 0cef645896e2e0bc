"""Analytics endpoints under /api/v3/advanced/analytics/ and the cache's under
/api/v3/advanced/cache/: parse the window, call a selector or service, render."""

import csv
import io

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, renderers, serializers
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.scoping import Actor
from accounts.viewsets import WorkspaceField, WorkspaceScopedViewSet
from analytics import cache_admin, insights, selectors, services
from analytics.models import Report
from analytics.window import TIME_RANGES, parse_window
from config.api.fields import ObjectIdField

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


# --- Cache -----------------------------------------------------------------------------------


class CacheClearSerializer(serializers.Serializer):
    namespace = serializers.CharField(max_length=50)
    workspace = ObjectIdField(required=False, allow_null=True)


class CacheSettingsSerializer(serializers.Serializer):
    workspace = ObjectIdField()
    ai_ttl_seconds = serializers.IntegerField(
        allow_null=True, min_value=0, max_value=cache_admin.MAX_TTL_SECONDS
    )


class CacheStatsView(APIView):
    """Hits, misses, hit rate, keys and memory per cache namespace you may see."""

    @extend_schema(
        parameters=[OpenApiParameter("workspace", int, description="One of your workspaces.")],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        from analytics.window import _int_param

        workspace_id = _int_param(request.query_params, "workspace")
        return Response(
            cache_admin.cache_stats(actor=Actor.from_request(request), workspace_id=workspace_id)
        )


class CacheClearView(APIView):
    """Clear a namespace: your workspace's AI replies (admins), anything (staff)."""

    @extend_schema(request=CacheClearSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        given = CacheClearSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        return Response(
            cache_admin.clear_cache(
                actor=Actor.from_request(request),
                namespace=given.validated_data["namespace"],
                workspace_id=given.validated_data.get("workspace"),
            )
        )


class CacheSettingsView(APIView):
    """Set a workspace's AI reply cache TTL (admins): seconds, 0 for none, null for the
    default."""

    @extend_schema(request=CacheSettingsSerializer, responses={200: OpenApiTypes.OBJECT})
    def put(self, request):
        given = CacheSettingsSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        return Response(
            cache_admin.set_ai_cache_ttl(
                actor=Actor.from_request(request),
                workspace_id=given.validated_data["workspace"],
                ttl_seconds=given.validated_data["ai_ttl_seconds"],
            )
        )


# --- Reports ---------------------------------------------------------------------------------


class ReportListSerializer(serializers.ModelSerializer):
    class Meta:
        model = Report
        fields = ["id", "workspace", "kind", "period_start", "period_end", "created_by",
                  "created_at"]  # fmt: skip


class ReportSerializer(ReportListSerializer):
    class Meta(ReportListSerializer.Meta):
        fields = [*ReportListSerializer.Meta.fields, "summary", "insights"]


class ReportCreateSerializer(serializers.Serializer):
    workspace = WorkspaceField()
    time_range = serializers.ChoiceField(choices=list(TIME_RANGES), required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


class ReportCSVRenderer(renderers.BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict) and "error" in data:  # an error answered as CSV
            return f"error,{data['error'].get('code', '')}\n".encode()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["section", "name", "value"])
        writer.writerows(data)
        return out.getvalue().encode()


class ReportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedViewSet):
    """Weekly (beat job) and on-demand reports: a summary and its insights, frozen. Fetch one
    as JSON, or as CSV at `reports/{id}/csv`."""

    queryset = Report.objects.select_related("workspace")
    filterset_fields = ["workspace", "kind"]
    ordering_fields = ["created_at", "period_start"]

    def get_serializer_class(self):
        if self.action == "list":
            return ReportListSerializer
        if self.action == "create":
            return ReportCreateSerializer
        return ReportSerializer

    @extend_schema(request=ReportCreateSerializer, responses={201: ReportSerializer})
    def create(self, request):
        given = ReportCreateSerializer(data=request.data, context={"request": request})
        given.is_valid(raise_exception=True)
        data = given.validated_data
        report = services.create_report(
            actor=self.actor,
            workspace_id=data["workspace"].pk,
            since=data.get("since"),
            until=data.get("until"),
            time_range=data.get("time_range"),
        )
        return Response(ReportSerializer(report).data, status=201)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], renderer_classes=[ReportCSVRenderer])
    def csv(self, request, pk=None):
        report = self.get_object()
        response = Response(services.report_rows(report))
        response["Content-Disposition"] = f'attachment; filename="report-{report.pk}.csv"'
        return response


class UserActivityView(AnalyticsView):
    """Per member: runs started, approvals, edits and logins (the last two from the audit
    app; null when it is not installed)."""

    @extend_schema(parameters=WINDOW_PARAMETERS, responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        from analytics.activity import user_activity

        return Response(user_activity(self.window(request), Actor.from_request(request)))
