from django.conf import settings
from rest_framework import serializers

from accounts.viewsets import WorkspaceField
from tasks.errors import BulkInvalid, BulkTooLarge
from tasks.models import BackgroundTask
from tasks.validation import SUBMIT_FIELDS


class TaskSerializer(serializers.ModelSerializer):
    submitted_by = serializers.CharField(
        source="submitted_by.username", default=None, allow_null=True, read_only=True
    )
    next_attempt_at = serializers.DateTimeField(source="run_after", read_only=True, allow_null=True)

    class Meta:
        model = BackgroundTask
        fields = [
            "id",
            "name",
            "task_type",
            "status",
            "priority",
            "progress",
            "progress_message",
            "payload",
            "result",
            "error",
            "attempts",
            "max_retries",
            "timeout",
            "scheduled_for",
            "next_attempt_at",
            "idempotency_key",
            "workspace",
            "submitted_by",
            "worker",
            "duration_ms",
            "resubmissions",
            "created_at",
            "queued_at",
            "started_at",
            "finished_at",
            "updated_at",
        ]
        read_only_fields = fields


class TaskTypeSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    schema = serializers.JSONField()
    priority = serializers.CharField()
    time_limit = serializers.IntegerField(allow_null=True)
    max_retries = serializers.IntegerField()
    retry_backoff = serializers.FloatField()
    schedule = serializers.JSONField(allow_null=True)
    system_only = serializers.BooleanField()


class _NoUnknownFields:
    allowed: tuple[str, ...] = ()

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.allowed)
        if unknown:
            raise serializers.ValidationError({f: ["Unknown field."] for f in sorted(unknown)})
        return attrs


class SubmitSerializer(_NoUnknownFields, serializers.Serializer):
    """The shape of one submission; the service checks what it means."""

    allowed = (*SUBMIT_FIELDS, "workspace")

    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    task_type = serializers.CharField(max_length=100)
    payload = serializers.DictField(required=False, allow_null=True)
    priority = serializers.CharField(required=False, allow_null=True)
    scheduled_for = serializers.DateTimeField(required=False, allow_null=True)
    delay_seconds = serializers.FloatField(required=False, allow_null=True)
    timeout = serializers.IntegerField(required=False, allow_null=True)
    max_retries = serializers.IntegerField(required=False, allow_null=True)
    idempotency_key = serializers.CharField(max_length=200, required=False, allow_null=True)
    workspace = WorkspaceField()


class BulkItemSerializer(SubmitSerializer):
    allowed = SUBMIT_FIELDS
    workspace = None  # one workspace per bulk request


class BulkSubmitSerializer(_NoUnknownFields, serializers.Serializer):
    allowed = ("tasks", "workspace")

    tasks = serializers.ListField(child=serializers.JSONField(), allow_empty=False)
    workspace = WorkspaceField()

    def validate_tasks(self, items):
        if len(items) > settings.TASKS_BULK_LIMIT:
            raise BulkTooLarge(
                f"At most {settings.TASKS_BULK_LIMIT} tasks per bulk request; got {len(items)}.",
                details={"limit": settings.TASKS_BULK_LIMIT, "received": len(items)},
            )
        parsed, problems = [], {}
        # One item serializer for the lot: DRF deep-copies a serializer's fields per instance,
        # which cost more than the validation itself at a thousand items.
        item_serializer = BulkItemSerializer(context=self.context)
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                problems[str(index)] = {"non_field_errors": ["Must be an object."]}
                continue
            item_serializer.initial_data = item  # what _NoUnknownFields checks
            try:
                valid = item_serializer.run_validation(item)
            except serializers.ValidationError as exc:
                problems[str(index)] = exc.detail
                continue
            parsed.append({k: v for k, v in valid.items() if v is not None})
        if problems:
            first = next(iter(problems))
            field, messages = next(iter(problems[first].items()))
            raise BulkInvalid(
                f"{len(problems)} of {len(items)} tasks are invalid; none was queued. "
                f"tasks[{first}]: {field}: {messages[0]}",
                details={"tasks": problems},
            )
        return parsed


class BulkCancelSerializer(_NoUnknownFields, serializers.Serializer):
    allowed = ("ids",)

    ids = serializers.ListField(child=serializers.UUIDField(), allow_empty=False)

    def validate_ids(self, ids):
        if len(ids) > settings.TASKS_BULK_LIMIT:
            raise BulkTooLarge(
                f"At most {settings.TASKS_BULK_LIMIT} ids per bulk request; got {len(ids)}.",
                details={"limit": settings.TASKS_BULK_LIMIT, "received": len(ids)},
            )
        return ids


class PoolSerializer(_NoUnknownFields, serializers.Serializer):
    allowed = ("worker", "action", "n")

    worker = serializers.CharField(max_length=200)
    action = serializers.ChoiceField(choices=["grow", "shrink"])
    n = serializers.IntegerField(min_value=1, max_value=64, default=1)


class ConsumerSerializer(_NoUnknownFields, serializers.Serializer):
    allowed = ("worker", "action", "queue")

    worker = serializers.CharField(max_length=200, required=False)
    action = serializers.ChoiceField(choices=["add", "cancel"])
    queue = serializers.ChoiceField(choices=["high", "default", "low"])
