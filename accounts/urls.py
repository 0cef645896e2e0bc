from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from accounts import api, security_api, workspace_export_api, workspace_lifecycle_api
from accounts.invitations import api as invitation_api
from accounts.profile import api as profile_api
from accounts.staff import api as staff_api

# Collected into the project's one router (config/api/router.py); urlpatterns adds the rest.
router = SimpleRouter()
router.register("workspaces", api.WorkspaceViewSet, basename="workspace")
router.register("security/api-keys", api.ApiKeyViewSet, basename="api-key")
router.register("security/sessions", security_api.SessionViewSet, basename="login-session")
router.register("users", staff_api.StaffUserViewSet, basename="staff-user")

member_list = api.MemberViewSet.as_view({"get": "list", "post": "create"})
member_detail = api.MemberViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "update", "delete": "destroy"}
)

invitation_list = invitation_api.InvitationViewSet.as_view({"get": "list", "post": "create"})
invitation_detail = invitation_api.InvitationViewSet.as_view(
    {"get": "retrieve", "delete": "destroy"}
)

auth_patterns = [
    path("register", api.RegisterView.as_view(), name="register"),
    path("login", api.LoginView.as_view(), name="login"),
    path("refresh", api.RefreshView.as_view(), name="refresh"),
    path("logout", api.LogoutView.as_view(), name="logout"),
    path("mfa/verify", api.MfaVerifyView.as_view(), name="mfa-verify"),
    path("me", profile_api.MeView.as_view(), name="me"),
    path("me/email", profile_api.EmailChangeView.as_view(), name="me-email"),
    path("me/email/confirm", profile_api.EmailConfirmView.as_view(), name="me-email-confirm"),
    path("me/export", profile_api.MeExportView.as_view(), name="me-export"),
]

security_patterns = [
    path("mfa", security_api.MfaStatusView.as_view(), name="mfa"),
    path("mfa/totp", security_api.TotpEnrolView.as_view(), name="mfa-totp"),
    path("mfa/totp/confirm", security_api.TotpConfirmView.as_view(), name="mfa-totp-confirm"),
    path("mfa/totp/disable", security_api.TotpDisableView.as_view(), name="mfa-totp-disable"),
    path("mfa/recovery-codes", security_api.RecoveryCodesView.as_view(), name="mfa-recovery"),
    path("password/change", security_api.PasswordChangeView.as_view(), name="password-change"),
    path("password/reset", security_api.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password/reset/confirm",
        security_api.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "validate-password", security_api.ValidatePasswordView.as_view(), name="validate-password"
    ),
    path("stats", security_api.SecurityStatsView.as_view(), name="security-stats"),
]

urlpatterns = [
    path("security/", include((security_patterns, "security"))),
    re_path(
        r"^security/sessions/revoke-all/?$",
        security_api.SessionViewSet.as_view({"post": "revoke_all"}),
        name="login-session-revoke-all",
    ),
    re_path(r"^security/lockouts/?$", security_api.LockoutListView.as_view(), name="lockouts"),
    re_path(
        r"^security/lockouts/unlock/?$", security_api.UnlockView.as_view(), name="lockout-unlock"
    ),
    path(
        "workspaces/<int:workspace_pk>/security-policy",
        security_api.SecurityPolicyView.as_view(),
        name="workspace-security-policy",
    ),
    path("auth/", include((auth_patterns, "auth"))),
    # The brief's path for login answers exactly like /auth/login.
    path("security/auth/login", api.LoginView.as_view(), name="security-login"),
    path("security/auth/mfa/verify", api.MfaVerifyView.as_view(), name="security-mfa-verify"),
    path(
        "workspaces/<int:workspace_pk>/settings",
        api.WorkspaceSettingsView.as_view(),
        name="workspace-settings",
    ),
    path("workspaces/<int:workspace_pk>/members/", member_list, name="workspace-members"),
    re_path(
        r"^workspaces/(?P<workspace_pk>\d+)/invitations/?$",
        invitation_list,
        name="workspace-invitations",
    ),
    re_path(
        r"^workspaces/(?P<workspace_pk>\d+)/invitations/(?P<pk>\d+)/?$",
        invitation_detail,
        name="workspace-invitation",
    ),
    re_path(
        r"^workspaces/(?P<workspace_pk>\d+)/leave/?$",
        workspace_lifecycle_api.LeaveWorkspaceView.as_view(),
        name="workspace-leave",
    ),
    re_path(
        r"^workspaces/(?P<workspace_pk>\d+)/transfer-ownership/?$",
        workspace_lifecycle_api.TransferOwnershipView.as_view(),
        name="workspace-transfer-ownership",
    ),
    re_path(
        r"^workspaces/(?P<workspace_pk>\d+)/export/?$",
        workspace_export_api.WorkspaceExportView.as_view(),
        name="workspace-export",
    ),
    re_path(
        r"^workspaces/(?P<workspace_pk>\d+)/exports/(?P<name>[a-z0-9-]+\.zip)/?$",
        workspace_export_api.WorkspaceExportDownloadView.as_view(),
        name="workspace-export-download",
    ),
    re_path(
        r"^invitations/accept/?$",
        invitation_api.AcceptInvitationView.as_view(),
        name="invitation-accept",
    ),
    path(
        "workspaces/<int:workspace_pk>/members/<int:user_id>/",
        member_detail,
        name="workspace-member",
    ),
]
