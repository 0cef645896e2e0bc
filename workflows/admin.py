"""Admin pages: workflows (the definition edited as YAML, validated and versioned like every
other edit; its steps shown read-only), runs (step runs inline, read-only), documents,
schedules (kept in step with their beat task) and budgets."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from workflows import authoring, scheduling, services
from workflows.definition import dump_yaml, load_text, parse_definition
from workflows.errors import DefinitionError, InvalidSchedule
from workflows.models import (
    Budget,
    Document,
    Run,
    Schedule,
    Step,
    StepRun,
    Workflow,
    WorkflowVersion,
)

STEP_FIELDS = [
    "position",
    "key",
    "name",
    "kind",
    "depends_on",
    "prompt",
    "query",
    "when",
    "model",
    "parameters",
    "response_schema",
    "retry_max_attempts",
    "retry_backoff_seconds",
    "timeout_seconds",
]


def _problems(exc: DefinitionError) -> list[str]:
    lines = []
    for where, problems in (exc.details or {}).items():
        if isinstance(problems, dict):
            for name, messages in problems.items():
                lines.extend(f"{where} '{name}': {message}" for message in messages)
        else:
            lines.extend(f"{where}: {message}" for message in problems)
    return lines or [exc.message]


class StepInline(admin.StackedInline):
    """The current version's steps, read-only: they are a projection of the definition,
    which is what the admin edits."""

    model = Step
    fields = STEP_FIELDS
    readonly_fields = STEP_FIELDS
    extra = 0
    ordering = ["position", "id"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class WorkflowAdminForm(forms.ModelForm):
    """The workflow's whole definition as YAML (or JSON), validated like every other edit."""

    definition = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 30, "cols": 100, "style": "font-family: monospace"}),
        help_text="The whole definition (name, description, inputs, steps ...); saved as the "
        "next version when it changes.",
    )

    class Meta:
        model = Workflow
        fields = ["workspace", "status"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "definition" not in self.initial:
            self.initial["definition"] = dump_yaml(authoring.current_definition(self.instance))

    def clean_definition(self) -> dict:
        try:
            data = load_text(self.cleaned_data["definition"])
            parse_definition(data)
        except DefinitionError as exc:
            raise ValidationError(_problems(exc)) from exc
        return data


class VersionInline(admin.TabularInline):
    model = WorkflowVersion
    fields = ["version", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    form = WorkflowAdminForm
    list_display = ["name", "workspace", "status", "version", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name", "description", "workspace__name"]
    readonly_fields = ["name", "version", "created_by", "created_at", "updated_at"]
    autocomplete_fields = ["workspace"]
    inlines = [StepInline, VersionInline]
    fields = [
        "workspace",
        "status",
        "name",
        "version",
        "created_by",
        "created_at",
        "updated_at",
        "definition",
    ]

    def get_readonly_fields(self, request, obj=None):
        # A workflow stays in the workspace it was made in.
        return [*self.readonly_fields, "workspace"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)  # the status
        services.save_definition_as_staff(
            user=request.user, workflow=obj, definition=form.cleaned_data["definition"]
        )

    def delete_model(self, request, obj):
        scheduling.remove_periodic_tasks(obj.schedules.all())
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        scheduling.remove_periodic_tasks(Schedule.objects.filter(workflow__in=queryset))
        super().delete_queryset(request, queryset)


class StepRunInline(admin.TabularInline):
    model = StepRun
    fields = [
        "key",
        "kind",
        "status",
        "attempts",
        "model",
        "tokens_in",
        "tokens_out",
        "cost",
        "latency_ms",
        "error_code",
        "error",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    """Read-only: runs change only through the engine."""

    list_display = ["id", "workflow", "status", "trigger", "priority", "cost", "created_at"]
    list_filter = ["status", "trigger", "priority"]
    search_fields = ["workflow__name", "error"]
    date_hierarchy = "created_at"
    inlines = [StepRunInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Run._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "step_key", "run", "workspace", "word_count", "created_at"]
    list_filter = ["step_key"]
    search_fields = ["title", "content"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Document._meta.fields] + ["parents"]

    def has_add_permission(self, request):
        return False


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = Schedule
        fields = ["workflow", "name", "cron", "timezone", "inputs", "priority", "enabled"]

    def clean_timezone(self):
        name = self.cleaned_data["timezone"]
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(f"Unknown time zone '{name}'.") from exc
        return name

    def clean_cron(self):
        cron = " ".join(self.cleaned_data["cron"].split())
        try:
            scheduling.parse_cron(cron)
        except InvalidSchedule as exc:
            raise ValidationError(exc.message) from exc
        return cron


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    """Edits here update the schedule's django-celery-beat task too."""

    form = ScheduleForm
    list_display = ["name", "workflow", "cron", "timezone", "enabled", "periodic_task"]
    list_filter = ["enabled"]
    search_fields = ["name", "workflow__name"]
    autocomplete_fields = ["workflow"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        scheduling.sync_periodic_task(obj)

    def delete_model(self, request, obj):
        scheduling.remove_periodic_tasks([obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        scheduling.remove_periodic_tasks(list(queryset))
        super().delete_queryset(request, queryset)


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ["workspace", "monthly_cost_limit", "monthly_token_limit", "updated_at"]
    autocomplete_fields = ["workspace"]
