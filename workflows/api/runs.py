"""Runs: start (two paths), list and read with steps and totals, cancel, retry, re-run from a
step, approve and reject a waiting step. Parsing and rendering only; the engine decides."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.scoping import Actor, scope_to_workspaces
from config.api.viewsets import WorkspaceScopedViewSet
from config.errors import NotFound
from workflows import engine
from workflows.models import Priority, Run, RunStatus, StepRun, Trigger, Workflow

# --- Serializers ----------------------------------------------------------------------------


class RunStepSerializer(serializers.ModelSerializer):
    decided_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = StepRun
        fields = [
            "key",
            "kind",
            "status",
            "depends_on",
            "attempts",
            "max_attempts",
            "model",
            "tokens_in",
            "tokens_out",
            "cost",
            "latency_ms",
            "error_code",
            "error",
            "document",
            "queued_at",
            "started_at",
            "finished_at",
            "decided_by",
            "decision_comment",
        ]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer):
    totals = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Run
        fields = [
            "id",
            "workflow",
            "workflow_version",
            "workspace",
            "status",
            "priority",
            "trigger",
            "inputs",
            "inputs_filled",
            "max_cost",
            "source_run",
            "error_code",
            "error",
            "totals",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_totals(self, run: Run) -> dict:
        return {
            "tokens_in": run.tokens_in,
            "tokens_out": run.tokens_out,
            "tokens": run.tokens_in + run.tokens_out,
            "cost": str(run.cost),
            "duration_seconds": run.duration_seconds,
        }


class RunDetailSerializer(RunSerializer):
    steps = RunStepSerializer(source="step_runs", many=True, read_only=True)

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "steps"]
        read_only_fields = fields


class StartRunSerializer(serializers.Serializer):
    inputs = serializers.DictField(required=False, default=dict)
    use_suggested_inputs = serializers.BooleanField(
        default=False,
        help_text="Fill the inputs left out from GET /workflows/{id}/suggested-inputs; the "
        "run's `inputs_filled` says which.",
    )
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    max_cost = serializers.DecimalField(
        max_digits=12, decimal_places=6, min_value=0, required=False, allow_null=True
    )


class ExecuteSerializer(serializers.Serializer):
    """The brief's shape: `{workflow_id, parameters}`."""

    workflow_id = serializers.IntegerField()
    parameters = serializers.DictField(required=False, default=dict)
    use_suggested_inputs = serializers.BooleanField(default=False)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    max_cost = serializers.DecimalField(
        max_digits=12, decimal_places=6, min_value=0, required=False, allow_null=True
    )


class RerunSerializer(serializers.Serializer):
    from_step = serializers.SlugField(max_length=64)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


# --- Starting runs ----------------------------------------------------------------------------


def _start(request, workflow_id: int, data: dict, inputs: dict) -> Response:
    actor = Actor.from_request(request)
    workflow = scope_to_workspaces(Workflow.objects.all(), actor).filter(pk=workflow_id).first()
    if workflow is None:
        raise NotFound("No such workflow.")
    run = engine.start_run(
        actor=actor,
        workflow=workflow,
        inputs=inputs,
        priority=data["priority"],
        max_cost=data.get("max_cost"),
        trigger=Trigger.API,
        use_suggested_inputs=data.get("use_suggested_inputs", False),
    )
    return Response(RunDetailSerializer(_detail(run.pk)).data, status=status.HTTP_201_CREATED)


def _detail(pk: int) -> Run:
    return (
        Run.objects.select_related("created_by")
        .prefetch_related("step_runs__decided_by")
        .get(pk=pk)
    )


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


class RunFilter(django_filters.FilterSet):
    workflow = django_filters.NumberFilter(field_name="workflow_id")
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)
    trigger = django_filters.ChoiceFilter(choices=Trigger.choices)

    class Meta:
        model = Run
        fields = ["workflow", "status", "trigger"]


class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedViewSet):
    queryset = Run.objects.select_related("created_by")
    serializer_class = RunSerializer
    filterset_class = RunFilter
    ordering_fields = ["created_at", "started_at", "finished_at", "cost"]

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            queryset = queryset.prefetch_related("step_runs__decided_by")
        return queryset

    def get_serializer_class(self):
        return RunSerializer if self.action == "list" else RunDetailSerializer

    def _respond(self, run: Run, code=status.HTTP_200_OK) -> Response:
        return Response(RunDetailSerializer(_detail(run.pk)).data, status=code)

    @extend_schema(request=None, responses={200: RunDetailSerializer})
    def cancel(self, request, pk=None):
        return self._respond(engine.cancel_run(actor=self.actor, run=self.get_object()))

    @extend_schema(request=None, responses={200: RunDetailSerializer})
    def retry(self, request, pk=None):
        return self._respond(engine.retry_run(actor=self.actor, run=self.get_object()))

    @extend_schema(request=RerunSerializer, responses={201: RunDetailSerializer})
    def rerun(self, request, pk=None):
        serializer = RerunSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        new = engine.rerun_from(
            actor=self.actor,
            run=self.get_object(),
            from_step=serializer.validated_data["from_step"],
            priority=serializer.validated_data.get("priority"),
        )
        return self._respond(new, status.HTTP_201_CREATED)

    @extend_schema(request=DecisionSerializer, responses={200: RunDetailSerializer})
    def approve(self, request, pk=None, key=None):
        return self._decide(engine.approve_step, request, key)

    @extend_schema(request=DecisionSerializer, responses={200: RunDetailSerializer})
    def reject(self, request, pk=None, key=None):
        return self._decide(engine.reject_step, request, key)

    def _decide(self, decision, request, key):
        """An approval step's decision (`engine.approve_step` or `reject_step`), with its
        comment."""
        serializer = DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = decision(
            actor=self.actor,
            run=self.get_object(),
            key=key,
            comment=serializer.validated_data["comment"],
        )
        return self._respond(run)
