"""API shapes of workflows, steps, versions, documents, schedules and budgets.

Write serializers only check the envelope (types of top-level fields); the definition itself
is validated whole by `workflows.definition.parse_definition` in the authoring service, so
every problem is reported naming the step, whether it came through the API, an import or
the CLI.
"""

from functools import cached_property

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.viewsets import WorkspaceField
from config.api.fields import ObjectIdField, iso_datetimes
from workflows import selectors
from workflows.authoring import current_definition
from workflows.definition_schema import definition_schema
from workflows.models import (
    Budget,
    Document,
    Priority,
    Run,
    Schedule,
    Step,
    StepRun,
    Workflow,
    WorkflowStatus,
    WorkflowVersion,
)
from workflows.selectors import children_ids


@extend_schema_field(OpenApiTypes.INT)
class WorkspaceIdField(WorkspaceField):
    """A workspace id (the caller's personal workspace by default), typed for the schema."""


# --- Workflows and steps --------------------------------------------------------------------


class StepSerializer(serializers.ModelSerializer):
    """A step as stored, in the definition's vocabulary (retry, timeout)."""

    retry = serializers.SerializerMethodField()
    timeout = serializers.IntegerField(source="timeout_seconds")

    class Meta:
        model = Step
        fields = [
            "key",
            "name",
            "kind",
            "position",
            "depends_on",
            "prompt",
            "query",
            "when",
            "model",
            "parameters",
            "response_schema",
            "retry",
            "timeout",
        ]
        read_only_fields = fields

    def get_retry(self, step: Step) -> dict:
        return {
            "max_attempts": step.retry_max_attempts,
            "backoff_seconds": step.retry_backoff_seconds,
        }


class StepWriteSerializer(serializers.Serializer):
    """A step in the definition format. Its fields are checked by the definition parser; this
    only takes `position` (0-based, where to insert; the end by default) off the top."""

    position = serializers.IntegerField(required=False, min_value=0, allow_null=True)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["A step is an object with 'key' and 'kind'."]}
            )
        values = super().to_internal_value({"position": data.get("position")})
        step = {name: value for name, value in data.items() if name != "position"}
        return {"position": values.get("position"), "step": step}


class ReorderSerializer(serializers.Serializer):
    keys = serializers.ListField(child=serializers.CharField(max_length=64), allow_empty=False)


class WorkflowSerializer(serializers.ModelSerializer):
    step_count = serializers.SerializerMethodField()
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, default=None, allow_null=True
    )

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
        read_only_fields = fields

    def get_step_count(self, workflow: Workflow) -> int:
        count = getattr(workflow, "step_count", None)
        return count if count is not None else workflow.steps.count()

    @cached_property
    def _write_datetime(self):
        return iso_datetimes()  # once per list, not per row

    @staticmethod
    def _creator(workflow: Workflow) -> str | None:
        # The list selects the username alone (`with_creator_name`), not the whole user row.
        if hasattr(workflow, "created_by_username"):
            return workflow.created_by_username
        return workflow.created_by.username if workflow.created_by_id else None

    def to_representation(self, workflow: Workflow) -> dict:
        """The fields above written out directly: DRF's generic per-field path was most of a
        list request's time (50 rows x 13 fields). Same fields, types and formats (a test
        compares this with the generic path on the same rows)."""
        iso = self._write_datetime
        return {
            "id": workflow.pk,
            "workspace": workflow.workspace_id,
            "name": workflow.name,
            "description": workflow.description,
            "status": workflow.status,
            "default_model": workflow.default_model,
            "default_parameters": workflow.default_parameters,
            "inputs": workflow.inputs,
            "version": workflow.version,
            "step_count": self.get_step_count(workflow),
            "created_by": self._creator(workflow),
            "created_at": iso(workflow.created_at),
            "updated_at": iso(workflow.updated_at),
        }


class WorkflowDetailSerializer(WorkflowSerializer):
    steps = StepSerializer(many=True, read_only=True)

    def to_representation(self, workflow: Workflow) -> dict:
        return serializers.ModelSerializer.to_representation(self, workflow)  # with its steps

    class Meta(WorkflowSerializer.Meta):
        fields = [*WorkflowSerializer.Meta.fields, "steps"]
        read_only_fields = fields


class WorkflowWriteSerializer(serializers.Serializer):
    """Create (the whole definition) or update (any of these fields) a workflow."""

    workspace = WorkspaceIdField(required=False)
    status = serializers.ChoiceField(choices=WorkflowStatus.choices, required=False)
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(allow_blank=True, required=False)
    default_model = serializers.CharField(max_length=200, allow_blank=True, required=False)
    default_parameters = serializers.JSONField(required=False)
    inputs = serializers.JSONField(required=False)
    steps = serializers.JSONField(required=False)

    def definition(self) -> dict:
        """The definition-format dict of what was given (create)."""
        data = self.validated_data
        definition = {"name": data.get("name"), "steps": data.get("steps")}
        for api_name, def_name in (
            ("description", "description"),
            ("default_model", "default_model"),
            ("default_parameters", "parameters"),
            ("inputs", "inputs"),
        ):
            if api_name in data:
                definition[def_name] = data[api_name]
        return definition

    def changes(self) -> dict:
        return {k: v for k, v in self.validated_data.items() if k != "workspace"}

    def to_representation(self, workflow: Workflow) -> dict:
        # What the browsable API pre-fills its edit form with: the current definition.
        definition = current_definition(workflow)
        return {
            "workspace": workflow.workspace_id,
            "status": workflow.status,
            "name": definition["name"],
            "description": definition.get("description", ""),
            "default_model": definition.get("default_model", ""),
            "default_parameters": definition.get("parameters", {}),
            "inputs": definition.get("inputs", []),
            "steps": definition["steps"],
        }


class VersionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = WorkflowVersion
        fields = ["version", "created_by", "created_at"]
        read_only_fields = fields


class VersionDetailSerializer(VersionSerializer):
    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "definition"]
        read_only_fields = fields


class AnalyticsQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(
        min_value=1, max_value=3660, required=False, help_text="Only runs of the last N days."
    )


@extend_schema_field(
    {
        "oneOf": [
            definition_schema(),
            {"type": "string", "description": "The same definition as YAML (or JSON) text."},
        ]
    }
)
class DefinitionField(serializers.JSONField):
    """A whole definition: checked by `parse_definition` in the service, described in the
    OpenAPI document by its JSON Schema."""


class ImportSerializer(serializers.Serializer):
    workspace = WorkspaceIdField(required=False)
    definition = DefinitionField(help_text="The definition (an object, or YAML text).")
    status = serializers.ChoiceField(choices=WorkflowStatus.choices, required=False)


# --- Documents ------------------------------------------------------------------------------


class DocumentSerializer(serializers.ModelSerializer):
    workflow = serializers.IntegerField(source="run.workflow_id", read_only=True)
    parents = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id",
            "workflow",
            "run",
            "step_key",
            "title",
            "content",
            "word_count",
            "analysis",
            "data",
            "parents",
            "created_at",
        ]
        read_only_fields = fields

    def get_parents(self, document: Document) -> list[int]:
        return sorted(parent.pk for parent in document.parents.all())


class DocumentDetailSerializer(DocumentSerializer):
    children = serializers.SerializerMethodField()

    class Meta(DocumentSerializer.Meta):
        fields = [*DocumentSerializer.Meta.fields, "children"]
        read_only_fields = fields

    def get_children(self, document: Document) -> list[int]:
        return children_ids(document)


class LineageNodeSerializer(serializers.ModelSerializer):
    """A document in a lineage: no content, its distance and its parents."""

    depth = serializers.SerializerMethodField()
    parents = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = ["id", "run", "step_key", "title", "word_count", "depth", "parents", "created_at"]
        read_only_fields = fields

    def get_depth(self, document: Document) -> int:
        return self.context["depth"].get(document.pk, 0)

    def get_parents(self, document: Document) -> list[int]:
        return sorted(parent.pk for parent in document.parents.all())


# --- Schedules and budgets ------------------------------------------------------------------


class ScheduleSerializer(serializers.ModelSerializer):
    periodic_task = serializers.CharField(
        source="periodic_task.name", read_only=True, default=None, allow_null=True
    )
    last_run_at = serializers.DateTimeField(
        source="periodic_task.last_run_at", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Schedule
        fields = [
            "id",
            "workflow",
            "name",
            "cron",
            "timezone",
            "inputs",
            "priority",
            "enabled",
            "periodic_task",
            "last_run_at",
            "created_at",
        ]
        read_only_fields = ["id", "workflow", "periodic_task", "last_run_at", "created_at"]


class ScheduleWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    cron = serializers.CharField(max_length=100)
    timezone = serializers.CharField(max_length=64, default="UTC")
    inputs = serializers.JSONField(default=dict)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    enabled = serializers.BooleanField(default=True)


class BudgetSerializer(serializers.ModelSerializer):
    workspace = serializers.IntegerField(source="workspace_id", read_only=True)
    monthly_cost_limit = serializers.DecimalField(
        max_digits=12, decimal_places=6, min_value=0, allow_null=True, required=False
    )
    monthly_token_limit = serializers.IntegerField(min_value=0, allow_null=True, required=False)
    month_to_date = serializers.SerializerMethodField()
    # None until a limit is first saved (the workspace has no budget row yet).
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Budget
        fields = [
            "workspace",
            "monthly_cost_limit",
            "monthly_token_limit",
            "month_to_date",
            "updated_at",
        ]
        read_only_fields = ["workspace", "month_to_date", "updated_at"]

    def get_month_to_date(self, budget: Budget) -> dict:
        usage = selectors.month_to_date(budget.workspace)
        return {
            "since": usage["since"].isoformat(),
            "cost": f"{usage['cost'].normalize():f}",
            "tokens": usage["tokens"],
        }


# --- Runs ---------------------------------------------------------------------------------


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

    workflow_id = ObjectIdField()
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


class SuggestedInputSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    required = serializers.BooleanField()
    value = serializers.JSONField(allow_null=True)
    source = serializers.ChoiceField(choices=["default", "last_run"], allow_null=True)
    run = serializers.IntegerField(allow_null=True, help_text="The run a last_run value is from.")


class SuggestedInputsSerializer(serializers.Serializer):
    workflow = serializers.IntegerField()
    inputs = SuggestedInputSerializer(many=True)
