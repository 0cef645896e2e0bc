"""Background tasks API under /api/v3/background/: types, tasks, service stats and control."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.scoping import Actor
from accounts.viewsets import WorkspaceScopedViewSet
from tasks import control, selectors, services
from tasks.errors import ControlUnavailable, TaskNotFound
from tasks.filters import TaskFilter
from tasks.models import BackgroundTask
from tasks.registry import all_task_types, get_task_type
from tasks.serializers import (
    BulkCancelSerializer,
    BulkSubmitSerializer,
    ConsumerSerializer,
    PoolSerializer,
    SubmitSerializer,
    TaskSerializer,
    TaskTypeSerializer,
)

UUID_PATTERN = "[0-9a-fA-F-]{32,36}"


class TaskTypeViewSet(viewsets.GenericViewSet):
    """Registered task types with their payload schemas."""

    serializer_class = TaskTypeSerializer
    filter_backends: list = []
    lookup_value_regex = "[A-Za-z0-9_.-]+"

    def get_queryset(self):
        staff = self.request.user.is_staff
        return [t for t in all_task_types() if staff or not t.system_only]

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([t.describe() for t in page])

    def retrieve(self, request, pk=None):
        try:
            ttype = get_task_type(pk)
        except KeyError:
            raise TaskNotFound(f"No task type named {pk!r}.") from None
        if ttype.system_only and not request.user.is_staff:
            raise TaskNotFound(f"No task type named {pk!r}.")
        return Response(ttype.describe())


class TaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedViewSet):
    """Background tasks in the caller's workspaces."""

    queryset = BackgroundTask.objects.select_related("submitted_by")
    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    ordering_fields = ["created_at", "finished_at", "priority", "status", "duration_ms"]
    lookup_value_regex = UUID_PATTERN

    # The verbs below are mapped in tasks/urls.py (the brief's paths, with or without a
    # trailing slash), not by the router.

    @extend_schema(request=SubmitSerializer, responses={201: TaskSerializer, 200: TaskSerializer})
    def submit(self, request):
        data = SubmitSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        fields = {k: v for k, v in data.validated_data.items() if v is not None}
        task = services.submit_task(actor=self.actor, **fields)
        code = status.HTTP_201_CREATED if task.created_now else status.HTTP_200_OK
        return Response(TaskSerializer(task).data, status=code)

    @extend_schema(request=BulkSubmitSerializer, responses={201: TaskSerializer(many=True)})
    def bulk_submit(self, request):
        data = BulkSubmitSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        tasks = services.bulk_submit_tasks(
            actor=self.actor,
            items=data.validated_data["tasks"],
            workspace=data.validated_data["workspace"],
        )
        return Response(
            {"tasks": TaskSerializer(tasks, many=True).data}, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=BulkCancelSerializer, responses=OpenApiTypes.OBJECT)
    def bulk_cancel(self, request):
        data = BulkCancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            services.bulk_cancel_tasks(actor=self.actor, ids=data.validated_data["ids"])
        )

    @extend_schema(request=None, responses=TaskSerializer)
    def cancel(self, request, pk=None):
        task = services.cancel_task(actor=self.actor, task=self.get_object())
        return Response(TaskSerializer(task).data)

    @extend_schema(request=None, responses=TaskSerializer)
    def retry(self, request, pk=None):
        task = services.retry_task(actor=self.actor, task=self.get_object())
        return Response(TaskSerializer(task).data, status=status.HTTP_202_ACCEPTED)


class ServiceStatsView(APIView):
    """Counts by state and type, durations, throughput, queue depths and live workers.
    Task numbers cover the caller's workspaces; staff may ask for `?scope=all`."""

    @extend_schema(
        parameters=[OpenApiParameter("scope", enum=["mine", "all"], required=False)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        everything = request.query_params.get("scope") == "all" and request.user.is_staff
        tasks = (
            selectors.all_tasks()
            if everything
            else selectors.tasks_for(Actor.from_request(request))
        )
        body = {
            "scope": "all" if everything else "mine",
            **selectors.task_stats(tasks),
            "queues": control.queue_depths(),
            "workers": self.workers(),
        }
        return Response(body)

    @staticmethod
    def workers() -> list[dict] | None:
        try:
            workers = control.live_workers()
        except ControlUnavailable:
            return None  # the broker is down: say "unknown", keep the rest of the stats
        keys = ("name", "pool", "concurrency", "queues", "active_tasks")
        return [{k: w[k] for k in keys} for w in workers]


class WorkersView(APIView):
    """Staff: the live workers in detail (`?worker=<name>` asks that one only, which answers
    as soon as it replies instead of after the whole inspect timeout)."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(
        parameters=[OpenApiParameter("worker", str, required=False)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        name = request.query_params.get("worker")
        return Response({"workers": control.live_workers([name] if name else None)})


class PoolView(APIView):
    """Staff: grow or shrink one worker's pool."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(request=PoolSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        data = PoolSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(control.resize_pool(**data.validated_data))


class ConsumerView(APIView):
    """Staff: start or stop consuming a queue (on one worker, or every worker)."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(request=ConsumerSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        data = ConsumerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        replies = control.set_consuming(
            queue=data.validated_data["queue"],
            consume=data.validated_data["action"] == "add",
            worker=data.validated_data.get("worker"),
        )
        return Response({"replies": replies})
