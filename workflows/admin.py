"""Admin pages: workflows (steps inline, validated and versioned like every other edit), runs
(step runs inline, read-only), documents, schedules (kept in step with their beat task) and
budgets."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html

from workflows import authoring, scheduling, services
from workflows.definition import dump_yaml, parse_definition
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


class StepFormSet(BaseInlineFormSet):
    """Validates the workflow as it will be after this save, as a whole definition."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        rows = [
            Step(**{name: form.cleaned_data.get(name) for name in STEP_FIELDS})
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        rows.sort(key=lambda step: step.position or 0)
        try:
            parse_definition(authoring.definition_from_rows(self.instance, rows))
        except DefinitionError as exc:
            raise ValidationError(_problems(exc)) from exc


class StepInline(admin.StackedInline):
    model = Step
    formset = StepFormSet
    fields = STEP_FIELDS
    extra = 0
    ordering = ["position", "id"]


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
    list_display = ["name", "workspace", "status", "version", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name", "description", "workspace__name"]
    readonly_fields = ["version", "created_by", "created_at", "updated_at", "definition_yaml"]
    autocomplete_fields = ["workspace"]
    inlines = [StepInline, VersionInline]
    fields = [
        "workspace",
        "name",
        "description",
        "status",
        "default_model",
        "default_parameters",
        "inputs",
        "version",
        "created_by",
        "created_at",
        "updated_at",
        "definition_yaml",
    ]

    @admin.display(description="Current definition")
    def definition_yaml(self, workflow: Workflow):
        if not workflow.pk or not workflow.versions.filter(version=workflow.version).exists():
            return "-"
        return format_html("<pre>{}</pre>", dump_yaml(authoring.current_definition(workflow)))

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.version_row_edits(user=request.user, workflow=form.instance)

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
