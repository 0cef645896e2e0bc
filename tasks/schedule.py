"""The project's default beat schedule: one django-celery-beat PeriodicTask per registered
task type that declares a `schedule`, installed by `migrate` (post_migrate).

Each entry calls `tasks.run_periodic(task_type, payload)`, which submits a system task of that
type, so every scheduled run leaves a BackgroundTask record with its outcome. Existing entries
are left as the admin edited them; disable one rather than delete it (a deleted entry comes
back at the next migrate).
"""

import json

from django.db import DEFAULT_DB_ALIAS, connections

from tasks.registry import TaskType, all_task_types

PERIODIC_TASK = "tasks.run_periodic"


def entry_name(ttype: TaskType) -> str:
    return f"{ttype.name} (default schedule)"


def _crontab(spec: str, using: str):
    from django_celery_beat.models import CrontabSchedule

    minute, hour, day_of_month, month_of_year, day_of_week = spec.split()
    schedule, _ = CrontabSchedule.objects.using(using).get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone="UTC",
    )
    return schedule


def _interval(seconds: int, using: str):
    from django_celery_beat.models import IntervalSchedule

    schedule, _ = IntervalSchedule.objects.using(using).get_or_create(
        every=int(seconds), period=IntervalSchedule.SECONDS
    )
    return schedule


def schedule_task_type(
    ttype: TaskType, *, schedule: dict | None = None, using: str = DEFAULT_DB_ALIAS
) -> bool:
    """Make sure a PeriodicTask runs `ttype` on `schedule` (default: the type's own).
    Returns True if it created one."""
    from django_celery_beat.models import PeriodicTask

    schedule = schedule or ttype.schedule
    if not schedule:
        raise ValueError(f"{ttype.name} has no schedule")
    if PeriodicTask.objects.using(using).filter(name=entry_name(ttype)).exists():
        return False
    when = (
        {"crontab": _crontab(schedule["crontab"], using)}
        if "crontab" in schedule
        else {"interval": _interval(schedule["every"], using)}
    )
    PeriodicTask.objects.using(using).create(
        name=entry_name(ttype),
        task=PERIODIC_TASK,
        kwargs=json.dumps({"task_type": ttype.name, "payload": schedule.get("payload", {})}),
        queue="default",
        description=ttype.description,
        **when,
    )
    return True


def install_default_schedule(*, using: str = DEFAULT_DB_ALIAS, **kwargs) -> list[str]:
    """post_migrate handler (also callable directly): the names of the entries it created."""
    tables = connections[using].introspection.table_names()
    if "django_celery_beat_periodictask" not in tables:
        return []
    return [
        entry_name(t) for t in all_task_types() if t.schedule and schedule_task_type(t, using=using)
    ]
