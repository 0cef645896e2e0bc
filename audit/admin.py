"""The audit rows in the admin: read-only for everyone, superusers included (an edited row
would break its chain; `audit_verify` would say so). Alerts are acknowledged through the API
(`POST /api/v3/security/alerts/{id}/acknowledge`), which records who and why."""

from auditlog.admin import LogEntryAdmin
from django.contrib import admin

from audit.models import AuditLogEntry, ChainHead, SecurityAlert, SecurityEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.unregister(AuditLogEntry)  # auditlog registered its own admin for the model


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(LogEntryAdmin):
    list_display = [*LogEntryAdmin.list_display, "workspace_id", "chain", "seq"]
    list_filter = [*LogEntryAdmin.list_filter, "chain"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "severity", "username", "ip", "workspace_id", "count"]
    list_filter = ["kind", "severity"]
    search_fields = ["username", "ip", "request_id"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in SecurityEvent._meta.fields]


@admin.register(SecurityAlert)
class SecurityAlertAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "rule", "severity", "title", "status", "acknowledged_by"]
    list_filter = ["rule", "severity", "status"]
    search_fields = ["title", "comment"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in SecurityAlert._meta.fields]


@admin.register(ChainHead)
class ChainHeadAdmin(ReadOnlyAdmin):
    list_display = ["chain", "seq", "hash", "updated_at", "checkpoint_seq", "checkpoint_at"]
    search_fields = ["chain"]
    readonly_fields = [field.name for field in ChainHead._meta.fields]
