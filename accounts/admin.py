from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey as LibraryApiKey

from accounts import lockout
from accounts.forms import MfaAuthenticationForm
from accounts.models import (
    ApiKey,
    Invitation,
    LoginSession,
    Membership,
    TOTPDevice,
    User,
    Workspace,
    WorkspaceSecurityPolicy,
    WorkspaceSettings,
)

# The admin's login asks for the second factor of users with MFA on (and axes locks it).
admin.site.login_form = MfaAuthenticationForm


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class InvitationInline(admin.TabularInline):
    model = Invitation
    extra = 0
    fields = ["email", "role", "invited_by", "created_at", "expires_at", "accepted_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # invitations are sent through the API: the link is mailed once


class WorkspaceSettingsInline(admin.StackedInline):
    model = WorkspaceSettings
    can_delete = False
    readonly_fields = ["updated_at"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "is_staff", "is_active", "date_joined", "last_login"]
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        ("Profile", {"fields": ["display_name", "time_zone", "locale"]}),
    ]
    actions = ["unlock_accounts", "deactivate_users", "logout_everywhere", "reset_mfa"]

    @admin.action(description="Unlock the selected accounts (clear failed logins)")
    def unlock_accounts(self, request, queryset):
        cleared = sum(
            lockout.unlock(request=request, username=user.get_username()) for user in queryset
        )
        self.message_user(request, f"{queryset.count()} account(s) unlocked ({cleared} cleared).")

    def _staff_action(self, request, queryset, verb, done: str) -> None:
        """The staff API's verbs (accounts.staff.services): sessions end, events recorded.
        Staff's own account is skipped."""
        from accounts.errors import OwnAccount  # noqa: PLC0415
        from accounts.staff import services as staff  # noqa: PLC0415

        count = 0
        for user in queryset:
            try:
                getattr(staff, verb)(staff=request.user, user=user, request=request)
            except OwnAccount:
                continue
            count += 1
        self.message_user(request, f"{count} account(s) {done}.")

    @admin.action(description="Deactivate the selected accounts (sessions end, sockets close)")
    def deactivate_users(self, request, queryset):
        self._staff_action(request, queryset, "deactivate_user", "deactivated")

    @admin.action(description="Log the selected accounts out everywhere")
    def logout_everywhere(self, request, queryset):
        self._staff_action(request, queryset, "logout_everywhere", "logged out everywhere")

    @admin.action(description="Reset the MFA of the selected accounts")
    def reset_mfa(self, request, queryset):
        self._staff_action(request, queryset, "reset_mfa", "had their MFA reset")


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_personal", "created_by", "created_at"]
    list_filter = ["is_personal"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [MembershipInline, InvitationInline, WorkspaceSettingsInline]


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


@admin.register(LoginSession)
class LoginSessionAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "ip", "created_at", "last_seen_at", "revoked_at"]
    list_filter = ["kind", "revoked_reason"]
    search_fields = ["user__username", "ip"]
    readonly_fields = [f.name for f in LoginSession._meta.fields if f.name != "session_key"]
    exclude = ["session_key"]
    actions = ["revoke_sessions"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Revoke the selected sessions")
    def revoke_sessions(self, request, queryset):
        from accounts import sessions  # noqa: PLC0415

        for session in queryset.filter(revoked_at__isnull=True):
            sessions.revoke(session=session, reason="admin")
        self.message_user(request, "Sessions revoked.")


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(admin.ModelAdmin):
    """Who has MFA on; the secret is never shown. Deleting a device turns MFA off."""

    list_display = ["user", "confirmed", "confirmed_at", "last_used_at"]
    fields = ["user", "confirmed", "confirmed_at", "last_used_at", "throttling_failure_count"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WorkspaceSecurityPolicy)
class WorkspaceSecurityPolicyAdmin(admin.ModelAdmin):
    list_display = ["workspace", "require_mfa", "min_password_length", "session_lifetime_minutes"]
    autocomplete_fields = ["workspace"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Invitations by workspace and address, with their state. Sent through the API (the
    link is mailed once, never stored); here they can be read and revoked."""

    list_display = ["email", "workspace", "role", "status", "invited_by", "created_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["email", "workspace__name", "invited_by__username"]
    readonly_fields = [
        "workspace",
        "email",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    ]
    exclude = ["nonce_digest"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="status")
    def status(self, invitation: Invitation) -> str:
        return invitation.status

    @admin.action(description="Revoke the selected invitations")
    def revoke(self, request, queryset):
        from accounts.invitations.services import revoke_invitation  # noqa: PLC0415

        pending = queryset.filter(accepted_at__isnull=True, revoked_at__isnull=True)
        for invitation in pending:
            revoke_invitation(actor=None, invitation=invitation, request=request)
        self.message_user(request, f"{len(pending)} invitation(s) revoked.")
