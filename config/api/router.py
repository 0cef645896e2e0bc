"""The one DRF router under /api/v3/: every app's SimpleRouter registry, so the browsable API
root lists them all."""

from rest_framework import permissions, routers

from accounts.urls import router as accounts_router
from ai.urls import router as ai_router
from analytics.urls import router as analytics_router
from notifications.urls import router as notifications_router
from tasks.urls import router as tasks_router
from workflows.urls import router as workflows_router


class ApiRootView(routers.APIRootView):
    """Docchain API v3. Log in (top right) to browse; every list needs authentication."""

    permission_classes = [permissions.AllowAny]


class ProjectRouter(routers.DefaultRouter):
    APIRootView = ApiRootView


router = ProjectRouter()
for app_router in (
    accounts_router,
    ai_router,
    workflows_router,
    tasks_router,
    notifications_router,
    analytics_router,
):
    router.registry.extend(app_router.registry)
