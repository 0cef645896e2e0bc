"""Runs: start (two paths), list and read with steps and totals, cancel, retry, re-run from a
step, approve and reject a waiting step. Parsing and rendering only; the engine decides."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.scoping import Actor
from accounts.viewsets import WorkspaceScopedViewSet
from workflows import selectors, services
from workflows.filters import RunFilter
from workflows.models import Run, Trigger
from workflows.serializers import (
    DecisionSerializer,
    ExecuteSerializer,
    RerunSerializer,
    RunDetailSerializer,
    RunSerializer,
    StartRunSerializer,
)

# --- Starting runs ----------------------------------------------------------------------------


def _start(request, workflow_id: int, data: dict, inputs: dict) -> Response:
    actor = Actor.from_request(request)
    workflow = selectors.get_workflow(actor, workflow_id)
    run = services.start_run(
        actor=actor,
        workflow=workflow,
        inputs=inputs,
        priority=data["priority"],
        max_cost=data.get("max_cost"),
        trigger=Trigger.API,
        use_suggested_inputs=data.get("use_suggested_inputs", False),
    )
    detail = selectors.run_detail(run.pk)
    return Response(RunDetailSerializer(detail).data, status=status.HTTP_201_CREATED)


class StartRunView(APIView):
    """`POST /workflows/{id}/runs/` `{inputs, priority?, max_cost?}`: 201 with the run."""

    @extend_schema(request=StartRunSerializer, responses={201: RunDetailSerializer})
    def post(self, request, workflow_pk: int):
        serializer = StartRunSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return _start(request, workflow_pk, data, data["inputs"])


class ExecuteView(APIView):
    """`POST /advanced/workflows/execute` `{workflow_id, parameters}`: the same as above."""

    @extend_schema(request=ExecuteSerializer, responses={201: RunDetailSerializer})
    def post(self, request):
        serializer = ExecuteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return _start(request, data["workflow_id"], data, data["parameters"])


# --- Reading and acting on runs -------------------------------------------------------------


class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedViewSet):
    queryset = Run.objects.all()
    serializer_class = RunSerializer
    filterset_class = RunFilter
    ordering_fields = ["created_at", "started_at", "finished_at", "cost"]

    def get_queryset(self):
        queryset = selectors.runs_for(self.actor).select_related("created_by")
        if self.action != "list":
            queryset = queryset.prefetch_related("step_runs__decided_by")
        return queryset

    def get_serializer_class(self):
        return RunSerializer if self.action == "list" else RunDetailSerializer

    def _respond(self, run: Run, code=status.HTTP_200_OK) -> Response:
        return Response(RunDetailSerializer(selectors.run_detail(run.pk)).data, status=code)

    @extend_schema(request=None, responses={200: RunDetailSerializer})
    def cancel(self, request, pk=None):
        return self._respond(services.cancel_run(actor=self.actor, run=self.get_object()))

    @extend_schema(request=None, responses={200: RunDetailSerializer})
    def retry(self, request, pk=None):
        return self._respond(services.retry_run(actor=self.actor, run=self.get_object()))

    @extend_schema(request=RerunSerializer, responses={201: RunDetailSerializer})
    def rerun(self, request, pk=None):
        run = self.get_object()  # 404 / 403 before the body is read
        serializer = RerunSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        new = services.rerun_from(
            actor=self.actor,
            run=run,
            from_step=serializer.validated_data["from_step"],
            priority=serializer.validated_data.get("priority"),
        )
        return self._respond(new, status.HTTP_201_CREATED)

    @extend_schema(request=DecisionSerializer, responses={200: RunDetailSerializer})
    def approve(self, request, pk=None, key=None):
        return self._decide(services.approve_step, request, key)

    @extend_schema(request=DecisionSerializer, responses={200: RunDetailSerializer})
    def reject(self, request, pk=None, key=None):
        return self._decide(services.reject_step, request, key)

    def _decide(self, decision, request, key):
        """An approval step's decision (`services.approve_step` or `reject_step`), with its
        comment."""
        run = self.get_object()  # 404 / 403 before the body is read
        serializer = DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = decision(
            actor=self.actor,
            run=run,
            key=key,
            comment=serializer.validated_data["comment"],
        )
        return self._respond(run)
