import json

from django.contrib import admin, messages
from django.utils.html import format_html

from config.errors import DomainError
from tasks import services
from tasks.models import BackgroundTask


def _pretty(value) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, default=str))


@admin.register(BackgroundTask)
class BackgroundTaskAdmin(admin.ModelAdmin):
    """Read-only records; cancel and retry go through the same services as the API."""

    list_display = [
        "name",
        "task_type",
        "status",
        "priority",
        "progress",
        "attempts",
        "workspace",
        "submitted_by",
        "created_at",
        "duration_ms",
    ]
    list_filter = ["status", "priority", "task_type", "created_at", "finished_at"]
    search_fields = ["id", "name", "task_type", "error", "submitted_by__username"]
    date_hierarchy = "created_at"
    list_select_related = ["workspace", "submitted_by"]
    actions = ["cancel_tasks", "retry_tasks"]
    exclude = ["payload", "result"]
    readonly_fields = [
        f.name for f in BackgroundTask._meta.fields if f.name not in ("payload", "result")
    ] + ["payload_pretty", "result_pretty"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="payload")
    def payload_pretty(self, obj):
        return _pretty(obj.payload)

    @admin.display(description="result")
    def result_pretty(self, obj):
        return _pretty(obj.result)

    def _each(self, request, queryset, verb, done_label):
        done, refused = 0, []
        for task in queryset:
            try:
                verb(actor=None, task=task)
                done += 1
            except DomainError as exc:
                refused.append(f"{task.name or task.pk}: {exc.message}")
        if done:
            self.message_user(request, f"{done} task(s) {done_label}.", messages.SUCCESS)
        for line in refused[:20]:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="Cancel the selected tasks", permissions=["change"])
    def cancel_tasks(self, request, queryset):
        self._each(request, queryset, services.cancel_task, "cancelled")

    @admin.action(description="Retry the selected failed / timed-out tasks", permissions=["change"])
    def retry_tasks(self, request, queryset):
        self._each(request, queryset, services.retry_task, "queued again")
