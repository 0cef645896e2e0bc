from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from ai import api

# Collected into the project's one router (config/api/router.py); urlpatterns adds the rest
# and must come before the router's, or "summary" would read as a usage record id.
router = SimpleRouter()
router.register("ai/usage", api.UsageViewSet, basename="ai-usage")

urlpatterns = [
    path("advanced/ai/generate", api.GenerateView.as_view(), name="ai-generate"),
    path("advanced/ai/analyze", api.AnalyzeView.as_view(), name="ai-analyze"),
    re_path(r"^ai/models/?$", api.ModelsView.as_view(), name="ai-models"),
    re_path(r"^ai/usage/summary/?$", api.UsageSummaryView.as_view(), name="ai-usage-summary"),
    path(
        "workspaces/<int:workspace_pk>/ai-keys",
        api.ProviderKeyListView.as_view(),
        name="workspace-ai-keys",
    ),
    path(
        "workspaces/<int:workspace_pk>/ai-keys/<str:provider>",
        api.ProviderKeyDetailView.as_view(),
        name="workspace-ai-key",
    ),
]
