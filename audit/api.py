"""The security and audit API under /api/v3/security/. Reads are scoped by `audit.selectors`;
the one write (acknowledging an alert) is `audit.services.acknowledge_alert`."""

import csv
import io

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from audit import compliance, exports, selectors, services
from audit.models import AuditLogEntry
from audit.selectors import AuditQuery, Viewer
from audit.serializers import (
    AcknowledgeSerializer,
    ActivityQuerySerializer,
    AuditQuerySerializer,
    ComplianceQuerySerializer,
    ComplianceReportSerializer,
    ExportQuerySerializer,
    FeedRowSerializer,
    SecurityAlertSerializer,
    SecurityEventSerializer,
)
from config.api.pagination import StandardPagination
from config.errors import Forbidden, NotFound

EXPORT_CHUNK = 2000


class AuditPagination(StandardPagination):
    """The standard pages, with the brief's `limit` as another name for `page_size`."""

    def get_page_size(self, request):
        if self.page_size_query_param not in request.query_params:
            raw = request.query_params.get("limit")
            if raw is not None:
                if not raw.isdigit() or int(raw) < 1:
                    raise serializers.ValidationError(
                        {"limit": ["A whole number from 1 to 200 is required."]}
                    )
                return min(int(raw), self.max_page_size)
        return super().get_page_size(request)


class QueryFormatNegotiation(DefaultContentNegotiation):
    """`?format=` names an export format here, not one of DRF's renderers: errors are JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _query(request, serializer_class=AuditQuerySerializer) -> tuple[AuditQuery, dict]:
    params = serializer_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    data = dict(params.validated_data)
    extra = {key: data.pop(key) for key in ("format",) if key in data}
    query = AuditQuery(**data)
    viewer = Viewer.of(request)
    if query.workspace is not None:
        _require_admin(viewer, query.workspace)
    return query, extra


def _require_admin(viewer: Viewer, workspace_id: int) -> None:
    """Reading a workspace's audit: staff, or its owners and admins. Not a member: 404."""
    if viewer.is_staff:
        return
    role = None if viewer.via_api_key else selectors.role_in(viewer, workspace_id)
    if role is None:
        raise NotFound()
    if role not in selectors.ADMIN_ROLES:
        raise Forbidden(
            "Reading a workspace's audit needs the admin role or higher.",
            code="insufficient_role",
            details={"required_role": "admin", "your_role": role},
        )


class AuditLogView(GenericAPIView):
    """The audit log: changes to workspaces, workflows, schedules, budgets, members and keys,
    runs' and tasks' lifecycles, and security events; newest first."""

    queryset = AuditLogEntry.objects.none()  # not a model list: for the schema only
    filter_backends: list = []

    pagination_class = AuditPagination
    serializer_class = FeedRowSerializer

    @extend_schema(parameters=[AuditQuerySerializer], responses=FeedRowSerializer(many=True))
    def get(self, request):
        query, _ = _query(request)
        feed = selectors.audit_log(Viewer.of(request), query)
        page = self.paginate_queryset(feed)
        rows = [selectors.as_feed_row(values) for values in page]
        return self.get_paginated_response(FeedRowSerializer(rows, many=True).data)


class AuditExportView(GenericAPIView):
    """The audit log as CSV (with a header), JSON Lines or CEF, streamed."""

    queryset = AuditLogEntry.objects.none()  # not a model list: for the schema only
    filter_backends: list = []

    content_negotiation_class = QueryFormatNegotiation
    serializer_class = FeedRowSerializer

    @extend_schema(
        parameters=[ExportQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            (200, "text/plain"): OpenApiTypes.STR,
        },
    )
    def get(self, request):
        query, extra = _query(request, ExportQuerySerializer)
        fmt = extra.get("format", "csv")
        rows = selectors.audit_log(Viewer.of(request), query).iterator(chunk_size=EXPORT_CHUNK)
        response = StreamingHttpResponse(
            exports.WRITERS[fmt](rows), content_type=exports.FORMATS[fmt]
        )
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = (
            f'attachment; filename="audit-{stamp}.{exports.EXTENSIONS[fmt]}"'
        )
        return response


class SecurityEventViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Security events: your own, and those of the workspaces you own or administer."""

    serializer_class = SecurityEventSerializer
    pagination_class = AuditPagination
    filterset_fields = ["kind", "severity", "workspace"]
    ordering_fields = ["created_at", "id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return selectors.SecurityEvent.objects.none()
        return selectors.security_events(Viewer.of(self.request)).order_by("-created_at", "-id")


class SecurityAlertViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Alerts raised by the threat rules: yours, and your workspaces' (owners, admins)."""

    serializer_class = SecurityAlertSerializer
    pagination_class = AuditPagination
    filterset_fields = ["rule", "severity", "status", "workspace"]
    ordering_fields = ["created_at", "id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return selectors.SecurityAlert.objects.none()
        return selectors.alerts(Viewer.of(self.request)).order_by("-created_at", "-id")

    @extend_schema(request=AcknowledgeSerializer, responses=SecurityAlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        alert = self.get_object()  # 404 unless the caller may see it
        data = AcknowledgeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if Viewer.of(request).via_api_key:
            raise Forbidden("Alerts are acknowledged by people, not API keys.")
        alert = services.acknowledge_alert(
            user=request.user, alert_id=alert.pk, comment=data.validated_data["comment"]
        )
        return Response(SecurityAlertSerializer(alert).data)


class ActivityView(GenericAPIView):
    """A user's recent activity (changes and security events), newest first: for the user,
    for owners and admins of a workspace you share (its rows), and for staff."""

    queryset = AuditLogEntry.objects.none()  # not a model list: for the schema only
    filter_backends: list = []

    pagination_class = AuditPagination
    serializer_class = FeedRowSerializer

    @extend_schema(parameters=[ActivityQuerySerializer], responses=FeedRowSerializer(many=True))
    def get(self, request):
        params = ActivityQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        subject = params.validated_data["user"]
        viewer = Viewer.of(request)
        if viewer.via_api_key and subject != viewer.pk:
            raise NotFound()
        if not selectors.can_see_activity_of(viewer, subject):
            raise NotFound()
        page = self.paginate_queryset(selectors.activity(viewer, subject))
        rows = [selectors.as_feed_row(values) for values in page]
        return self.get_paginated_response(FeedRowSerializer(rows, many=True).data)


class ComplianceReportView(GenericAPIView):
    """An access review of one workspace (owners and admins): members and roles, MFA status,
    API keys with age and last use, inactive accounts, open alerts, the chain's verification.
    `format=csv` for a spreadsheet."""

    queryset = AuditLogEntry.objects.none()  # not a model list: for the schema only
    filter_backends: list = []

    content_negotiation_class = QueryFormatNegotiation
    serializer_class = ComplianceReportSerializer

    @extend_schema(
        parameters=[ComplianceQuerySerializer],
        responses={
            200: ComplianceReportSerializer,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
        },
    )
    def get(self, request):
        params = ComplianceQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        workspace_id = params.validated_data["workspace"]
        _require_admin(Viewer.of(request), workspace_id)
        report = compliance.access_review(workspace_id)
        if params.validated_data["format"] == "csv":
            buffer = io.StringIO()
            csv.writer(buffer).writerows(compliance.csv_rows(report))
            response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = (
                f'attachment; filename="access-review-{workspace_id}.csv"'
            )
            return response
        return Response(ComplianceReportSerializer(report).data)
