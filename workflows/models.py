"""Workflows (a graph of steps), their runs, and the documents runs produce.

The database is the engine's source of truth: a Run carries a snapshot of the definition it
started from, each StepRun its state and lease, and a Document is unique per (run, step) so
a step can never produce two documents, however often its message is delivered.
"""

from django.conf import settings
from django.db import models

from accounts.models import Workspace


class WorkflowStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"


# A step's defaults, here once: the definition's parser, the step rows and the engine use them.
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_BACKOFF_SECONDS = 2.0
DEFAULT_TIMEOUT_SECONDS = 120


class StepKind(models.TextChoices):
    GENERATE = "generate", "Generate (LLM)"
    TRANSFORM = "transform", "Transform (template only)"
    ANALYZE = "analyze", "Analyze upstream text"
    APPROVAL = "approval", "Wait for approval"
    RETRIEVE = "retrieve", "Retrieve workspace documents (search)"


class Priority(models.TextChoices):
    HIGH = "high", "High"
    NORMAL = "normal", "Normal"
    LOW = "low", "Low"


class Trigger(models.TextChoices):
    API = "api", "API"
    SCHEDULE = "schedule", "Schedule"
    CLI = "cli", "Command line"
    BATCH = "batch", "Batch task"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting for approval"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


RUN_FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting for approval"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


STEP_FINISHED = (
    StepStatus.SUCCEEDED,
    StepStatus.FAILED,
    StepStatus.SKIPPED,
    StepStatus.CANCELLED,
)


class Workflow(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=WorkflowStatus.choices, default=WorkflowStatus.ACTIVE
    )
    default_model = models.CharField(max_length=200, blank=True)
    default_parameters = models.JSONField(default=dict, blank=True)
    # Named inputs: [{"name", "type", "required", "default", "description"}]
    inputs = models.JSONField(default=list, blank=True)
    # Incremented on every change to the steps (or inputs); past definitions in WorkflowVersion.
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["workspace", "status"])]

    def __str__(self) -> str:
        return self.name


class WorkflowVersion(models.Model):
    """The full definition of a workflow as it was at one version."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    definition = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "version"], name="one_row_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.workflow} v{self.version}"


class Step(models.Model):
    """A node of the workflow graph."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="steps")
    key = models.SlugField(max_length=64)
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=10, choices=StepKind.choices, default=StepKind.GENERATE)
    position = models.PositiveIntegerField()
    # Keys of upstream steps. None means "the step before it" (so a plain list is a chain);
    # an explicit [] makes the step a root that starts at once.
    depends_on = models.JSONField(null=True, blank=True)
    prompt = models.TextField(blank=True)
    when = models.TextField(blank=True)  # a template; empty/false/no/0 skips the step
    query = models.TextField(blank=True)  # a retrieve step's search, a template
    model = models.CharField(max_length=200, blank=True)
    parameters = models.JSONField(default=dict, blank=True)  # temperature, max_tokens, ...
    response_schema = models.JSONField(null=True, blank=True)
    retry_max_attempts = models.PositiveSmallIntegerField(default=DEFAULT_MAX_ATTEMPTS)
    retry_backoff_seconds = models.FloatField(default=DEFAULT_BACKOFF_SECONDS)
    timeout_seconds = models.PositiveIntegerField(default=DEFAULT_TIMEOUT_SECONDS)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "key"], name="step_key_unique_in_workflow")
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id}:{self.key}"


class Run(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="runs")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="runs")
    workflow_version = models.PositiveIntegerField()
    # The definition the run started from: editing the workflow never changes a running run.
    definition = models.JSONField()
    inputs = models.JSONField(default=dict, blank=True)
    # Inputs the caller left out and asked to have suggested (use_suggested_inputs):
    # {name: {"value", "source"}}; the values are in `inputs` too.
    inputs_filled = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    priority = models.CharField(max_length=6, choices=Priority.choices, default=Priority.NORMAL)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.API)
    # A re-run from a chosen step points at the run whose upstream documents it reuses.
    source_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns"
    )
    max_cost = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workflow", "status"]),
            models.Index(fields=["workspace", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.workflow_id} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class StepRun(models.Model):
    # No index of their own: every lookup names the run, which `one_step_run_per_key` leads
    # with, and each index is written again on every status change (the engine's hot path).
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="step_runs", db_index=False)
    key = models.SlugField(max_length=64, db_index=False)
    kind = models.CharField(max_length=10, choices=StepKind.choices)
    # Resolved upstream keys (never None here), copied from the run's definition.
    depends_on = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=StepStatus.choices, default=StepStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    rendered_prompt = models.TextField(blank=True)
    model = models.CharField(max_length=200, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    latency_ms = models.FloatField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A running step's claim: past this time the sweep re-queues it (its worker is presumed dead).
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # The id of the Celery message that will run the step, so cancel can revoke it.
    task_id = models.CharField(max_length=64, blank=True)
    # Copied from the run's definition when the run starts, so a worker can claim the step
    # (its lease is this long) and fetch what it reads in its first two queries.
    timeout_seconds = models.PositiveIntegerField(default=DEFAULT_TIMEOUT_SECONDS)
    # Keys of the steps whose documents this step reads: its upstream ones (its parents) and
    # any its templates mention.
    context_keys = models.JSONField(default=list, blank=True)
    # The output. A re-run may point at a document made by its source run (reused, not copied).
    document = models.ForeignKey(
        "Document", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="one_step_run_per_key")]
        indexes = [models.Index(fields=["status", "lease_expires_at"])]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.key} ({self.status})"


class Document(models.Model):
    """The output of a step run, linked to the upstream documents it was made from."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="documents")
    # Indexed by `one_document_per_step` (run, step key), which every run lookup uses; the
    # documents list's step filter comes with its workspace's.
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="documents", db_index=False)
    step_key = models.SlugField(max_length=64, db_index=False)
    title = models.CharField(max_length=300)
    content = models.TextField(blank=True)
    word_count = models.PositiveIntegerField(default=0)
    analysis = models.JSONField(default=dict, blank=True)  # keywords, sentiment, summary, ...
    data = models.JSONField(null=True, blank=True)  # structured output, when a schema was given
    parents = models.ManyToManyField("self", symmetrical=False, related_name="children", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # However often a step's message is delivered, it makes one document.
            models.UniqueConstraint(fields=["run", "step_key"], name="one_document_per_step")
        ]

    def __str__(self) -> str:
        return self.title


class Budget(models.Model):
    """A workspace's monthly spending limits; a step that would start beyond one fails."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="budget")
    monthly_cost_limit = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    monthly_token_limit = models.PositiveBigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"budget of {self.workspace}"


class Schedule(models.Model):
    """Run a workflow with given inputs on a cron schedule, through django-celery-beat."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="schedules")
    name = models.CharField(max_length=200)
    cron = models.CharField(max_length=100, help_text="minute hour day-of-month month day-of-week")
    timezone = models.CharField(max_length=64, default="UTC")
    inputs = models.JSONField(default=dict, blank=True)
    priority = models.CharField(max_length=6, choices=Priority.choices, default=Priority.NORMAL)
    enabled = models.BooleanField(default=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.cron})"
