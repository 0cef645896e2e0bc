from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.viewsets import InCallersWorkspacesField, WorkspaceField
from config.api.fields import ObjectIdField, TimeOfDayField
from notifications import recipients as recipient_rules
from notifications.errors import BulkInvalid, InvalidNotification
from notifications.models import (
    TEMPLATE_CHANNEL_CHOICES,
    Channel,
    ChannelKind,
    Delivery,
    EventType,
    InboxItem,
    Notification,
    NotificationTemplate,
    Preference,
    Priority,
    PushSubscription,
    Rule,
)
from notifications.secrets import masked, read_secret
from workflows.models import Workflow


class DeliverySerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel_kind", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "notification",
            "workspace",
            "channel",
            "recipient",
            "user",
            "status",
            "attempts",
            "max_attempts",
            "next_attempt_at",
            "provider_status",
            "provider_response",
            "provider_message_id",
            "error_code",
            "error",
            "created_at",
            "sending_at",
            "sent_at",
            "failed_at",
            "updated_at",
        ]
        read_only_fields = fields


class NotificationSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel_kind", read_only=True)
    deliveries = DeliverySerializer(many=True, read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "workspace",
            "channel",
            "channel_id",
            "event",
            "rule",
            "template_key",
            "subject",
            "message",
            "priority",
            "idempotency_key",
            "created_by",
            "created_at",
            "deliveries",
        ]
        read_only_fields = fields


class SendItemSerializer(serializers.Serializer):
    """The brief's body (`channel`, `recipient`, `subject`, `message`), and more."""

    channel = serializers.ChoiceField(choices=ChannelKind.choices, required=False)
    channel_id = ObjectIdField(required=False)
    recipient = serializers.CharField(required=False, max_length=500)
    recipients = serializers.ListField(
        child=serializers.CharField(max_length=500),
        required=False,
        max_length=settings.NOTIFICATIONS_MAX_RECIPIENTS,
    )
    subject = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    message = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=settings.NOTIFICATIONS_MAX_MESSAGE_CHARS,
    )
    template = serializers.SlugField(required=False, max_length=100)
    context = serializers.DictField(required=False)
    data = serializers.DictField(required=False, help_text='Links and ids, e.g. {"url": ...}')
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    idempotency_key = serializers.CharField(required=False, max_length=200)

    def validate(self, attrs):
        if not attrs.get("channel") and not attrs.get("channel_id"):
            raise serializers.ValidationError({"channel": ["A channel or channel_id is required."]})
        if not attrs.get("template") and not attrs.get("message"):
            raise serializers.ValidationError({"message": ["A message or a template is required."]})
        return attrs

    @staticmethod
    def service_fields(attrs: dict) -> dict:
        attrs = dict(attrs)
        attrs.pop("workspace", None)
        recipients = ([attrs.pop("recipient")] if attrs.get("recipient") else []) + attrs.pop(
            "recipients", []
        )
        attrs.pop("recipient", None)
        return {**attrs, "recipients": recipients}


class SendSerializer(SendItemSerializer):
    workspace = WorkspaceField()


class BulkSendSerializer(serializers.Serializer):
    workspace = WorkspaceField()
    notifications = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        help_text="Items shaped like /send's body (without workspace).",
    )

    def validate_notifications(self, items):
        limit = settings.NOTIFICATIONS_BULK_LIMIT
        if len(items) > limit:
            raise InvalidNotification(
                f"At most {limit} notifications per bulk request.",
                code="bulk_limit_exceeded",
                details={"limit": limit, "count": len(items)},
            )
        clean = []
        one = SendItemSerializer(context=self.context)  # its fields are built once, not per item
        for index, item in enumerate(items):
            try:
                attrs = one.run_validation(item)
            except serializers.ValidationError as exc:
                errors = exc.detail if isinstance(exc.detail, dict) else {"item": exc.detail}
                field, problems = next(iter(errors.items()))
                first = problems[0] if isinstance(problems, list) and problems else problems
                raise BulkInvalid(
                    f"Item {index}: {field}: {first}",
                    details={"index": index, "errors": errors},
                ) from None
            clean.append(SendItemSerializer.service_fields(attrs))
        return clean


class ChannelSerializer(serializers.ModelSerializer):
    secrets = serializers.SerializerMethodField(help_text="Masked: the last characters only.")

    class Meta:
        model = Channel
        fields = [
            "id",
            "workspace",
            "kind",
            "name",
            "config",
            "secrets",
            "is_active",
            "rate_limit_per_minute",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_secrets(self, channel) -> dict:
        return {name: masked(str(value)) for name, value in read_secret(channel).items()}


class ChannelCreatedSerializer(ChannelSerializer):
    secrets_shown_once = serializers.SerializerMethodField(
        help_text="Generated secrets (a webhook's signing secret): shown in this answer only."
    )

    class Meta(ChannelSerializer.Meta):
        fields = [*ChannelSerializer.Meta.fields, "secrets_shown_once"]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_secrets_shown_once(self, channel) -> dict:
        return getattr(channel, "shown_once", {})


class ChannelWriteSerializer(serializers.Serializer):
    workspace = WorkspaceField()
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    name = serializers.CharField(max_length=120)
    config = serializers.DictField(required=False, default=dict)
    secrets = serializers.DictField(
        child=serializers.CharField(max_length=2000),
        required=False,
        default=dict,
        write_only=True,
    )
    is_active = serializers.BooleanField(default=True)
    rate_limit_per_minute = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=100000
    )


class ChannelUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    config = serializers.DictField(required=False)
    secrets = serializers.DictField(
        child=serializers.CharField(max_length=2000), required=False, write_only=True
    )
    is_active = serializers.BooleanField(required=False)
    rate_limit_per_minute = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=100000
    )
    rotate_secret = serializers.BooleanField(
        required=False, default=False, help_text="A webhook's new signing secret, shown once."
    )


class TemplateSerializer(serializers.ModelSerializer):
    workspace = WorkspaceField()
    channel = serializers.ChoiceField(
        choices=TEMPLATE_CHANNEL_CHOICES, default=NotificationTemplate.ANY
    )

    class Meta:
        model = NotificationTemplate
        fields = [
            "id",
            "workspace",
            "key",
            "channel",
            "subject",
            "body",
            "html_body",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators: list = []  # uniqueness is the service's check (one error shape)


class RuleSerializer(serializers.ModelSerializer):
    workspace = WorkspaceField()
    channel = InCallersWorkspacesField(
        queryset=Channel.objects.all(), required=False, allow_null=True
    )
    channel_kind = serializers.ChoiceField(choices=ChannelKind.choices, required=False)
    workflow = InCallersWorkspacesField(
        queryset=Workflow.objects.all(), required=False, allow_null=True
    )
    recipients = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, default=list, max_length=100
    )

    class Meta:
        model = Rule
        fields = [
            "id",
            "workspace",
            "name",
            "event",
            "channel",
            "channel_kind",
            "recipients",
            "template",
            "priority",
            "workflow",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise serializers.ValidationError(f"{value!r} is not a time zone name.") from None
    return value


class PreferenceSerializer(serializers.ModelSerializer):
    channels_by_event = serializers.DictField(
        child=serializers.ListField(child=serializers.ChoiceField(choices=ChannelKind.choices)),
        required=False,
        help_text='Event type (or "default") -> the channels that may reach you for it.',
    )
    quiet_hours_start = TimeOfDayField(required=False, allow_null=True)
    quiet_hours_end = TimeOfDayField(required=False, allow_null=True)
    timezone = serializers.CharField(max_length=64, required=False, validators=[_zone])
    phone = serializers.RegexField(
        recipient_rules.PHONE.pattern, required=False, allow_blank=True, max_length=20
    )
    # null until the preferences are first saved
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Preference
        fields = [
            "channels_by_event",
            "quiet_hours_start",
            "quiet_hours_end",
            "timezone",
            "phone",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]

    def validate_channels_by_event(self, value):
        allowed = {*EventType.values, "default"}
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise serializers.ValidationError(f"Unknown event types: {', '.join(unknown)}.")
        return value


class InboxItemSerializer(serializers.ModelSerializer):
    read = serializers.SerializerMethodField()

    class Meta:
        model = InboxItem
        fields = ["id", "workspace", "subject", "message", "data", "read", "read_at", "created_at"]
        read_only_fields = fields

    def get_read(self, item) -> bool:
        return item.read_at is not None


class PushKeysSerializer(serializers.Serializer):
    p256dh = serializers.CharField(max_length=200, help_text="The browser's P-256 key, base64url.")
    auth = serializers.CharField(max_length=200, help_text="The 16-byte auth secret, base64url.")


class PushSubscriptionWriteSerializer(serializers.Serializer):
    """The browser's `PushSubscription.toJSON()` as it is."""

    endpoint = serializers.CharField(max_length=2000)
    expirationTime = serializers.IntegerField(  # noqa: N815 - the browser's own name
        required=False, allow_null=True, help_text="Ignored (push services rarely set it)."
    )
    keys = PushKeysSerializer()


class PushSubscriptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = PushSubscription
        fields = ["id", "endpoint", "user_agent", "created_at", "last_success_at"]
        read_only_fields = fields
