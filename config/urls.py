from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from accounts.forms import MfaAuthenticationForm
from analytics.views import dashboard, dashboard_data_view, metrics_view
from config import health
from config.api.router import router
from realtime.views import realtime_page

browsable_api_auth = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="rest_framework/login.html", authentication_form=MfaAuthenticationForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]

api_v3 = [
    path("health", health.HealthView.as_view(), name="health"),
    path("", include("accounts.urls")),
    path("", include("realtime.urls")),
    path("", include("ai.urls")),
    path("", include("search.urls")),
    path("", include("workflows.urls")),
    path("", include("tasks.urls")),
    path("", include("audit.urls")),
    path("", include("notifications.urls")),
    path("", include("analytics.urls")),
    path("", include(router.urls)),
]

urlpatterns = [
    path("health", health.alive, name="alive"),
    path("api/v3/", include(api_v3)),
    path("admin/", admin.site.urls),
    path("realtime/", realtime_page, name="realtime-page"),
    path("dashboard/", dashboard, name="dashboard"),
    path("dashboard/data", dashboard_data_view, name="dashboard-data"),
    path("metrics", metrics_view, name="prometheus-metrics"),
    # Session log-in for the browsable API (the "Log in" link on /api/v3/): DRF's pages, with
    # the second-factor field, and axes' lockout like every login.
    path("api-auth/", include((browsable_api_auth, "rest_framework"))),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    # ReDoc starts with an inline script: the one page whose CSP allows one.
    path(
        "redoc",
        csp_update({"script-src": [UNSAFE_INLINE], "style-src": [UNSAFE_INLINE]})(
            SpectacularRedocView.as_view(url_name="schema")
        ),
        name="redoc",
    ),
]

handler404 = "config.api.views.not_found"
handler500 = "config.api.views.server_failure"
