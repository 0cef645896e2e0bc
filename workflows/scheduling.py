"""Schedules: run a workflow with given inputs on a cron schedule.

Each Schedule owns one django_celery_beat PeriodicTask (with a CrontabSchedule built from its
`cron`) that calls the task "workflows.run_schedule" with kwargs {"schedule_id": id}; beat's
DatabaseScheduler picks up every change. These verbs keep the two in step, in one transaction.
"""

import json
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery.schedules import crontab
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from accounts.models import Role
from accounts.scoping import Actor, require_role
from workflows.authoring import current_definition
from workflows.definition import parse_definition, validate_inputs
from workflows.errors import InvalidSchedule
from workflows.models import Priority, Schedule, Workflow

RUN_SCHEDULE_TASK = "workflows.run_schedule"
CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
EDITABLE = ("name", "cron", "timezone", "inputs", "priority", "enabled")


def parse_cron(cron: str) -> dict[str, str]:
    """'m h dom mon dow' -> CrontabSchedule fields, or InvalidSchedule saying what is wrong."""
    parts = cron.split() if isinstance(cron, str) else []
    if len(parts) != len(CRON_FIELDS):
        raise InvalidSchedule(
            "A cron expression has five fields: minute hour day-of-month month day-of-week.",
            details={"cron": [f"expected 5 fields, got {len(parts)}"]},
        )
    fields = dict(zip(CRON_FIELDS, parts, strict=True))
    for name, value in fields.items():
        try:
            crontab(**{name: value})
        except (ValueError, TypeError) as exc:
            raise InvalidSchedule(
                f"The cron {name.replace('_', '-')} field '{value}' is not valid: {exc}",
                details={"cron": [f"{name}: {exc}"]},
            ) from exc
    return fields


def _check(workflow: Workflow, values: dict) -> dict:
    problems: dict[str, list[str]] = {}
    name = values.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        problems["name"] = ["required, at most 200 characters"]
    try:
        ZoneInfo(values.get("timezone") or "")
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        problems["timezone"] = [f"unknown time zone '{values.get('timezone')}'"]
    if values.get("priority") not in Priority.values:
        problems["priority"] = [f"must be one of {', '.join(Priority.values)}"]
    if not isinstance(values.get("enabled"), bool):
        problems["enabled"] = ["must be true or false"]
    if problems:
        field, messages = next(iter(problems.items()))
        raise InvalidSchedule(f"{field}: {messages[0]}", details=problems)
    parse_cron(values["cron"])
    # The workflow may change later (the run checks again), but refuse what is wrong today.
    definition = parse_definition(current_definition(workflow))
    values["inputs"] = validate_inputs(definition, values.get("inputs"))
    return values


def _crontab_for(schedule: Schedule) -> CrontabSchedule:
    fields = {**parse_cron(schedule.cron), "timezone": schedule.timezone}
    existing = CrontabSchedule.objects.filter(**fields).order_by("id").first()
    return existing or CrontabSchedule.objects.create(**fields)


def sync_periodic_task(schedule: Schedule) -> PeriodicTask:
    """Create or update the schedule's PeriodicTask to match it."""
    task = schedule.periodic_task or PeriodicTask(name=f"workflow schedule {schedule.pk}")
    task.task = RUN_SCHEDULE_TASK
    task.crontab = _crontab_for(schedule)
    task.interval = None
    task.kwargs = json.dumps({"schedule_id": schedule.pk})
    task.enabled = schedule.enabled
    task.description = f"{schedule.name} (workflow {schedule.workflow_id})"
    task.save()
    if schedule.periodic_task_id != task.pk:
        schedule.periodic_task = task
        schedule.save(update_fields=["periodic_task"])
    return task


@transaction.atomic
def create_schedule(
    *,
    actor: Actor,
    workflow: Workflow,
    name: str,
    cron: str,
    timezone: str = "UTC",
    inputs: dict | None = None,
    priority: str = Priority.NORMAL,
    enabled: bool = True,
) -> Schedule:
    require_role(actor, workflow.workspace_id, Role.EDITOR)
    values = _check(
        workflow,
        {
            "name": name,
            "cron": cron,
            "timezone": timezone,
            "inputs": inputs or {},
            "priority": priority,
            "enabled": enabled,
        },
    )
    values["cron"] = " ".join(values["cron"].split())
    schedule = Schedule.objects.create(
        workflow=workflow,
        created_by=actor.user if actor.user.is_authenticated else None,
        **values,
    )
    sync_periodic_task(schedule)
    return schedule


@transaction.atomic
def update_schedule(*, actor: Actor, schedule: Schedule, changes: dict) -> Schedule:
    require_role(actor, schedule.workflow.workspace_id, Role.EDITOR)
    schedule = Schedule.objects.select_for_update().get(pk=schedule.pk)
    values = {name: changes.get(name, getattr(schedule, name)) for name in EDITABLE}
    values = _check(schedule.workflow, values)
    values["cron"] = " ".join(values["cron"].split())
    for name, value in values.items():
        setattr(schedule, name, value)
    schedule.save()
    sync_periodic_task(schedule)
    return schedule


def remove_periodic_tasks(schedules) -> None:
    """Delete the PeriodicTasks of these schedules (a Schedule does not cascade to its task)."""
    ids = [s.periodic_task_id for s in schedules if s.periodic_task_id]
    PeriodicTask.objects.filter(pk__in=ids).delete()


@transaction.atomic
def delete_schedule(*, actor: Actor, schedule: Schedule) -> None:
    require_role(actor, schedule.workflow.workspace_id, Role.EDITOR)
    remove_periodic_tasks([schedule])
    schedule.delete()
