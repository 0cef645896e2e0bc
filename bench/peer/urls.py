"""A plain DRF `ModelViewSet` listing the caller's workflows: scoped to the user's workspaces,
step count annotated, creator joined, paginated with a count; what `GET /api/v3/workflows/`
returns, written the way the DRF tutorial teaches."""

from django.db.models import Count
from django.http import JsonResponse
from django.urls import include, path
from rest_framework import pagination, routers, serializers, viewsets

from workflows.models import Workflow


class Pages(pagination.PageNumberPagination):
    page_size_query_param = "page_size"


class WorkflowSerializer(serializers.ModelSerializer):
    step_count = serializers.IntegerField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = Workflow
        fields = [
            "id",
            "workspace",
            "name",
            "description",
            "status",
            "default_model",
            "default_parameters",
            "inputs",
            "version",
            "step_count",
            "created_by",
            "created_at",
            "updated_at",
        ]


class WorkflowViewSet(viewsets.ModelViewSet):
    serializer_class = WorkflowSerializer
    pagination_class = Pages

    def get_queryset(self):
        return (
            Workflow.objects.filter(workspace__memberships__user=self.request.user)
            .annotate(step_count=Count("steps"))
            .select_related("created_by")
            .order_by("-updated_at", "-id")
        )


router = routers.SimpleRouter()
router.register("workflows", WorkflowViewSet, basename="workflow")
urlpatterns = [
    path("health", lambda request: JsonResponse({"status": "ok"})),
    path("api/v3/", include(router.urls)),
]
