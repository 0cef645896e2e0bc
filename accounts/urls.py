from django.urls import include, path
from rest_framework.routers import SimpleRouter

from accounts import api

# Collected into the project's one router (config/api/router.py); urlpatterns adds the rest.
router = SimpleRouter()
router.register("workspaces", api.WorkspaceViewSet, basename="workspace")
router.register("security/api-keys", api.ApiKeyViewSet, basename="api-key")

member_list = api.MemberViewSet.as_view({"get": "list", "post": "create"})
member_detail = api.MemberViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "update", "delete": "destroy"}
)

auth_patterns = [
    path("register", api.RegisterView.as_view(), name="register"),
    path("login", api.LoginView.as_view(), name="login"),
    path("refresh", api.RefreshView.as_view(), name="refresh"),
    path("logout", api.LogoutView.as_view(), name="logout"),
    path("me", api.MeView.as_view(), name="me"),
]

urlpatterns = [
    path("auth/", include((auth_patterns, "auth"))),
    # The brief's path for login answers exactly like /auth/login.
    path("security/auth/login", api.LoginView.as_view(), name="security-login"),
    path(
        "workspaces/<int:workspace_pk>/settings",
        api.WorkspaceSettingsView.as_view(),
        name="workspace-settings",
    ),
    path("workspaces/<int:workspace_pk>/members/", member_list, name="workspace-members"),
    path(
        "workspaces/<int:workspace_pk>/members/<int:user_id>/",
        member_detail,
        name="workspace-member",
    ),
]
