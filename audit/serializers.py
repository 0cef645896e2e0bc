from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audit.events import Severity
from audit.exports import FORMATS
from audit.models import SecurityAlert, SecurityEvent
from audit.selectors import ACTIONS
from config.api.fields import ObjectIdField


class AuditQuerySerializer(serializers.Serializer):
    """Filters of the audit log and its export (all optional)."""

    actor = ObjectIdField(required=False, help_text="A user id.")
    action = serializers.ChoiceField(
        choices=sorted(ACTIONS),
        required=False,
        help_text="create, update, delete, access, a run or task event, or a security kind.",
    )
    model = serializers.RegexField(
        r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$",
        max_length=100,
        required=False,
        help_text="app_label.model, e.g. workflows.workflow",
    )
    object_id = serializers.CharField(max_length=255, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    workspace = ObjectIdField(required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    q = serializers.CharField(max_length=200, required=False)


class ExportQuerySerializer(AuditQuerySerializer):
    format = serializers.ChoiceField(choices=sorted(FORMATS), default="csv")


class FeedRowSerializer(serializers.Serializer):
    """One row of the audit log: a change (`source` "change") or a security event."""

    source = serializers.ChoiceField(choices=["change", "security"])
    id = serializers.IntegerField()
    timestamp = serializers.DateTimeField()
    actor_id = serializers.IntegerField(allow_null=True)
    username = serializers.CharField(allow_blank=True)
    action = serializers.CharField()
    model = serializers.CharField(allow_blank=True)
    object_id = serializers.CharField(allow_blank=True)
    object_repr = serializers.CharField(allow_blank=True)
    workspace_id = serializers.IntegerField(allow_null=True)
    severity = serializers.CharField()
    ip = serializers.CharField(allow_null=True)
    changes = serializers.JSONField(allow_null=True, help_text="Changed fields: [old, new].")
    count = serializers.IntegerField()
    chain = serializers.CharField()
    seq = serializers.IntegerField()
    hash = serializers.CharField()


class SecurityEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = SecurityEvent
        fields = [
            "id",
            "kind",
            "severity",
            "actor",
            "user",
            "username",
            "workspace",
            "ip",
            "user_agent",
            "request_id",
            "details",
            "count",
            "created_at",
            "chain",
            "seq",
            "hash",
        ]
        read_only_fields = fields


class SecurityAlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = SecurityAlert
        fields = [
            "id",
            "rule",
            "severity",
            "title",
            "evidence",
            "user",
            "workspace",
            "ip",
            "status",
            "created_at",
            "acknowledged_by",
            "acknowledged_at",
            "comment",
        ]
        read_only_fields = fields


class AcknowledgeSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=2000, trim_whitespace=True)


class ActivityQuerySerializer(serializers.Serializer):
    user = ObjectIdField()


class ComplianceQuerySerializer(serializers.Serializer):
    workspace = ObjectIdField()
    format = serializers.ChoiceField(choices=["json", "csv"], default="json")


@extend_schema_field(OpenApiTypes.OBJECT)
class AnyJSON(serializers.JSONField):
    pass


class ComplianceReportSerializer(serializers.Serializer):
    workspace = AnyJSON()
    generated_at = serializers.DateTimeField()
    inactive_after_days = serializers.IntegerField()
    members = serializers.ListField(child=AnyJSON())
    inactive_accounts = serializers.ListField(child=serializers.CharField())
    api_keys = serializers.ListField(child=AnyJSON())
    open_alerts = serializers.ListField(child=AnyJSON())
    chain = AnyJSON()
