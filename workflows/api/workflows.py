"""Workflows, their steps (nodes), versions and schedules; import, export and analytics."""

from datetime import timedelta
from functools import cached_property

from django.utils import timezone
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.scoping import Actor
from accounts.viewsets import WorkspaceScopedModelViewSet, WorkspaceScopedViewSet
from config.api.pagination import ShortListPagination
from config.api.parsers import SafeJSONParser
from config.errors import NotFound
from workflows import authoring, selectors, services, suggestions
from workflows.api.formats import YAML_PARSERS, YAMLRenderer
from workflows.definition import parse_definition
from workflows.definition_schema import definition_schema
from workflows.filters import WorkflowFilter
from workflows.models import Schedule, Step, Workflow, WorkflowVersion
from workflows.serializers import (
    AnalyticsQuerySerializer,
    ImportSerializer,
    ReorderSerializer,
    ScheduleSerializer,
    ScheduleWriteSerializer,
    StepSerializer,
    StepWriteSerializer,
    SuggestedInputsSerializer,
    VersionDetailSerializer,
    VersionSerializer,
    WorkflowDetailSerializer,
    WorkflowSerializer,
    WorkflowWriteSerializer,
)

# What PUT (a whole replacement) means for fields left out.
PUT_DEFAULTS = {
    "name": None,
    "description": "",
    "default_model": "",
    "default_parameters": {},
    "inputs": [],
    "steps": None,
}


def _detail(workflow: Workflow) -> dict:
    workflow = Workflow.objects.prefetch_related("steps").get(pk=workflow.pk)
    return WorkflowDetailSerializer(workflow).data


class WorkflowViewSet(WorkspaceScopedModelViewSet):
    """Workflows: the list (filter `status`, `workspace`, search `q`), create with a whole
    definition, PATCH any of its fields, PUT a whole new definition, delete.
    Every change to the definition is validated whole and saved as a new version."""

    queryset = Workflow.objects.all()
    serializer_class = WorkflowSerializer
    pagination_class = ShortListPagination  # a workspace holds tens of workflows, not thousands
    filterset_class = WorkflowFilter
    ordering_fields = ["id", "name", "created_at", "updated_at", "version"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        workflows = selectors.workflows_for(self.actor)
        if self.action == "list":
            return selectors.with_creator_name(workflows)
        workflows = workflows.select_related("created_by")
        if self.action == "retrieve":
            workflows = workflows.prefetch_related("steps")
        return workflows

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return WorkflowWriteSerializer
        if self.action == "retrieve":
            return WorkflowDetailSerializer
        return WorkflowSerializer

    def get_renderers(self):
        if getattr(self, "action", None) == "export":
            return [JSONRenderer(), YAMLRenderer(), BrowsableAPIRenderer()]
        return super().get_renderers()

    @extend_schema(request=WorkflowWriteSerializer, responses={201: WorkflowDetailSerializer})
    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        workspace = data.validated_data.get("workspace")
        if workspace is None:
            raise NotFound("You have no workspace to create a workflow in.")
        workflow = services.create_workflow(
            actor=self.actor,
            workspace=workspace,
            definition=data.definition(),
            status=data.validated_data.get("status"),
        )
        return Response(_detail(workflow), status=status.HTTP_201_CREATED)

    @extend_schema(request=WorkflowWriteSerializer, responses=WorkflowDetailSerializer)
    def update(self, request, *args, partial=False, **kwargs):
        workflow = self.get_object()
        data = self.get_serializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        changes = data.changes()
        if not partial:
            changes = {**PUT_DEFAULTS, **changes}
        workflow = services.update_workflow(actor=self.actor, workflow=workflow, changes=changes)
        return Response(_detail(workflow))

    def perform_destroy(self, instance):
        services.delete_workflow(actor=self.actor, workflow=instance)

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["json", "yaml"])],
        responses={200: OpenApiResponse(description="The definition, as JSON or YAML")},
    )
    def export(self, request, pk=None):
        """The current definition (JSON; `?format=yaml` for YAML). Importing it gives it back."""
        workflow = self.get_object()
        filename = f"{slugify(workflow.name) or 'workflow'}.{request.accepted_renderer.format}"
        return Response(
            authoring.export_definition(workflow),
            headers={"Content-Disposition": f'inline; filename="{filename}"'},
        )

    @extend_schema(
        parameters=[AnalyticsQuerySerializer],
        responses={200: OpenApiResponse(description="Runs, durations, tokens, cost, slowest")},
    )
    def analytics(self, request, pk=None):
        """Runs by status, success rate, duration p50/p95, tokens and cost, slowest steps."""
        workflow = self.get_object()
        query = AnalyticsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        days = query.validated_data.get("days")
        since = timezone.now() - timedelta(days=days) if days else None
        return Response(selectors.workflow_analytics(workflow, since=since))

    @extend_schema(responses={200: SuggestedInputsSerializer})
    def suggested_inputs(self, request, pk=None):
        """Per input, a value and where it came from: the declared default, else your last
        successful run of this workflow (`source`: default, last_run or null)."""
        workflow = self.get_object()
        definition = parse_definition(authoring.current_definition(workflow))
        rows = suggestions.suggest(workflow, definition, request.user)
        return Response(SuggestedInputsSerializer({"workflow": workflow.pk, "inputs": rows}).data)


class DefinitionSchemaView(APIView):
    """The workflow definition format as a JSON Schema (public: it describes the format, not
    anyone's data). What it cannot say (unique keys, dependencies, templates) the import and
    edit endpoints check and name in their 400s."""

    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(definition_schema())

    def perform_authentication(self, request):
        pass  # public: a stale token in the caller's headers does not matter here


class WorkflowImportView(APIView):
    """Create a workflow from a definition: JSON `{workspace, definition}` (the definition an
    object or YAML text), or a YAML body (Content-Type application/yaml or text/yaml) with
    `?workspace=`. 201 with the workflow."""

    parser_classes = [SafeJSONParser, *YAML_PARSERS, FormParser, MultiPartParser]

    @extend_schema(request=ImportSerializer, responses={201: WorkflowDetailSerializer})
    def post(self, request):
        if _is_yaml(request):
            payload = {"definition": request.data}
            if request.query_params.get("workspace"):
                payload["workspace"] = request.query_params["workspace"]
        else:
            payload = request.data
        data = ImportSerializer(data=payload, context={"request": request})
        data.is_valid(raise_exception=True)
        workspace = data.validated_data.get("workspace")
        if workspace is None:
            raise NotFound("You have no workspace to import into.")
        workflow = services.import_workflow(
            actor=Actor.from_request(request),
            workspace=workspace,
            source=data.validated_data["definition"],
            status=data.validated_data.get("status"),
        )
        return Response(_detail(workflow), status=status.HTTP_201_CREATED)


def _is_yaml(request) -> bool:
    return any(request.content_type.startswith(parser.media_type) for parser in YAML_PARSERS)


class WorkflowChildMixin:
    """For views under /workflows/{workflow_pk}/: the workflow, or 404 outside the caller's
    workspaces."""

    @cached_property
    def workflow(self) -> Workflow:
        return selectors.get_workflow(self.actor, self.kwargs["workflow_pk"])

    def parent_workspace(self) -> int:
        return self.workflow.workspace_id


class StepViewSet(WorkflowChildMixin, WorkspaceScopedViewSet):
    """A workflow's steps (nodes). Add, edit (PATCH merges, PUT replaces, null resets a field
    to its default), reorder and delete; each change re-validates the whole definition and
    saves a new version of the workflow."""

    queryset = Step.objects.select_related("workflow")
    workspace_field = "workflow__workspace"
    serializer_class = StepSerializer
    lookup_field = "key"
    lookup_value_regex = "[a-z][a-z0-9_]*"

    def get_queryset(self):
        return super().get_queryset().filter(workflow=self.workflow)

    def _step(self, key: str) -> dict:
        return StepSerializer(Step.objects.get(workflow=self.workflow, key=key)).data

    def list(self, request, workflow_pk=None):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(StepSerializer(page, many=True).data)

    def retrieve(self, request, workflow_pk=None, key=None):
        return Response(StepSerializer(self.get_object()).data)

    @extend_schema(request=StepWriteSerializer, responses={201: StepSerializer})
    def create(self, request, workflow_pk=None):
        data = StepWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.add_step(
            actor=self.actor,
            workflow=self.workflow,
            step=data.validated_data["step"],
            position=data.validated_data["position"],
        )
        return Response(
            self._step(data.validated_data["step"].get("key")), status=status.HTTP_201_CREATED
        )

    @extend_schema(request=StepWriteSerializer, responses=StepSerializer)
    def update(self, request, workflow_pk=None, key=None, partial=False):
        step = self.get_object()
        data = StepWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = data.validated_data["step"]
        services.update_step(
            actor=self.actor, workflow=self.workflow, key=step.key, changes=changes, partial=partial
        )
        return Response(self._step(changes.get("key") or step.key))

    def partial_update(self, request, workflow_pk=None, key=None):
        return self.update(request, workflow_pk=workflow_pk, key=key, partial=True)

    def destroy(self, request, workflow_pk=None, key=None):
        step = self.get_object()
        services.delete_step(actor=self.actor, workflow=self.workflow, key=step.key)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ReorderSerializer, responses=WorkflowDetailSerializer)
    def reorder(self, request, workflow_pk=None):
        """`{"keys": [...]}`: every step key once, in the new order. Returns the workflow."""
        data = ReorderSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workflow = services.reorder_steps(
            actor=self.actor, workflow=self.workflow, keys=data.validated_data["keys"]
        )
        return Response(_detail(workflow))


class VersionViewSet(WorkflowChildMixin, mixins.ListModelMixin, WorkspaceScopedViewSet):
    """A workflow's versions, newest first; a version's detail carries its definition."""

    queryset = WorkflowVersion.objects.all()
    workspace_field = "workflow__workspace"
    serializer_class = VersionSerializer
    lookup_field = "version"
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return selectors.versions_of(self.workflow)

    def get_serializer_class(self):
        return VersionDetailSerializer if self.action == "retrieve" else VersionSerializer

    def retrieve(self, request, workflow_pk=None, version=None):
        return Response(VersionDetailSerializer(self.get_object()).data)


class ScheduleViewSet(WorkflowChildMixin, mixins.ListModelMixin, WorkspaceScopedViewSet):
    """Cron schedules that run the workflow with given inputs (trigger `schedule`). Each owns
    a django-celery-beat periodic task, kept in step with it."""

    queryset = Schedule.objects.all()
    workspace_field = "workflow__workspace"
    serializer_class = ScheduleSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return selectors.schedules_of(self.workflow)

    def retrieve(self, request, workflow_pk=None, pk=None):
        return Response(ScheduleSerializer(self.get_object()).data)

    @extend_schema(request=ScheduleWriteSerializer, responses={201: ScheduleSerializer})
    def create(self, request, workflow_pk=None):
        data = ScheduleWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        schedule = services.create_schedule(
            actor=self.actor, workflow=self.workflow, **data.validated_data
        )
        return Response(ScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ScheduleWriteSerializer, responses=ScheduleSerializer)
    def update(self, request, workflow_pk=None, pk=None, partial=False):
        schedule = self.get_object()
        data = ScheduleWriteSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        schedule = services.update_schedule(
            actor=self.actor, schedule=schedule, changes=data.validated_data
        )
        return Response(ScheduleSerializer(schedule).data)

    def partial_update(self, request, workflow_pk=None, pk=None):
        return self.update(request, workflow_pk=workflow_pk, pk=pk, partial=True)

    def destroy(self, request, workflow_pk=None, pk=None):
        services.delete_schedule(actor=self.actor, schedule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
