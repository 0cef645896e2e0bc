from django.contrib import admin

from ai.models import UsageRecord, WorkspaceProviderKey


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    """Usage is a ledger: viewable, never added, edited or deleted by hand."""

    list_display = (
        "created_at",
        "workspace",
        "user",
        "model",
        "provider",
        "total_tokens",
        "cost",
        "latency_ms",
        "cached",
        "outcome",
        "error_code",
    )
    list_filter = ("provider", "outcome", "cached", "streamed", "model")
    search_fields = ("model", "error_code", "workspace__name", "user__username")
    date_hierarchy = "created_at"
    list_select_related = ("workspace", "user")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WorkspaceProviderKey)
class WorkspaceProviderKeyAdmin(admin.ModelAdmin):
    """Which workspaces brought their own key: the key itself is never shown (it is set through
    the API); an admin may delete one."""

    list_display = ("workspace", "provider", "last4", "updated_by", "updated_at")
    list_filter = ("provider",)
    fields = ("workspace", "provider", "last4", "updated_by", "created_at", "updated_at")
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
