from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey as LibraryApiKey

from accounts.models import ApiKey, Membership, User, Workspace, WorkspaceSettings


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class WorkspaceSettingsInline(admin.StackedInline):
    model = WorkspaceSettings
    can_delete = False
    readonly_fields = ["updated_at"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "is_staff", "is_active", "date_joined", "last_login"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_personal", "created_by", "created_at"]
    list_filter = ["is_personal"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [MembershipInline, WorkspaceSettingsInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "workspace__name"]
    autocomplete_fields = ["user", "workspace"]


@admin.register(ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    """Shows the prefix, never the hash or the secret (the library's admin does that)."""

    list_display = [*APIKeyModelAdmin.list_display, "workspace", "created_by", "last_used_at"]
    list_filter = [*APIKeyModelAdmin.list_filter, "workspace"]
    search_fields = [*APIKeyModelAdmin.search_fields, "workspace__name"]

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "last_used_at", "last_used_ip")


# The library's own concrete key model is unused: ours is workspace-scoped.
admin.site.unregister(LibraryApiKey)
