"""The one DRF router under /api/v3/: every app's SimpleRouter registry, so the browsable API
root lists them all."""

from rest_framework.routers import DefaultRouter

from accounts.urls import router as accounts_router
from tasks.urls import router as tasks_router

router = DefaultRouter()
for app_router in (accounts_router, tasks_router):
    router.registry.extend(app_router.registry)
