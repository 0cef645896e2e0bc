"""maintenance.*: housekeeping run by the beat schedule (installed by migrate, editable in
the admin under Periodic tasks)."""

from datetime import timedelta
from io import StringIO

from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from tasks import dispatch, recovery, services
from tasks.registry import TaskContext, task_type


@task_type(
    "maintenance.cleanup_tasks",
    schema={
        "type": "object",
        "properties": {"days": {"type": "integer", "minimum": 1}},
        "additionalProperties": False,
    },
    description=(
        "Deletes finished background-task records older than `days` "
        "(default: the TASKS_RETENTION_DAYS setting)."
    ),
    priority="low",
    time_limit=600,
    schedule={"crontab": "30 3 * * *"},
    system_only=True,
)
def cleanup_tasks(ctx: TaskContext, payload: dict) -> dict:
    days = payload.get("days") or settings.TASKS_RETENTION_DAYS
    deleted = services.delete_finished_before(cutoff=timezone.now() - timedelta(days=days))
    return {"deleted": deleted, "older_than_days": days}


@task_type(
    "maintenance.flush_expired_tokens",
    schema={"type": "object", "additionalProperties": False},
    description="Deletes expired JWT refresh tokens (simplejwt's flushexpiredtokens).",
    priority="low",
    time_limit=600,
    schedule={"crontab": "0 3 * * *"},
    system_only=True,
)
def flush_expired_tokens(ctx: TaskContext, payload: dict) -> dict:
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    before = OutstandingToken.objects.count()
    call_command("flushexpiredtokens", stdout=StringIO())
    return {"deleted": before - OutstandingToken.objects.count()}


RECOVER_EVERY_SECONDS = 30


@task_type(
    "maintenance.recover_tasks",
    schema={"type": "object", "additionalProperties": False},
    description=(
        "Hands stalled task records to the broker again (never sent, lost retry) and settles "
        "records whose worker died."
    ),
    priority="high",
    time_limit=120,
    # Work held up by a broker outage resumes within about a minute of its return.
    schedule={"every": RECOVER_EVERY_SECONDS},
    system_only=True,
)
def recover_tasks(ctx: TaskContext, payload: dict) -> dict:
    return recovery.recover_stalled()


@task_type(
    "maintenance.release_scheduled",
    schema={"type": "object", "additionalProperties": False},
    description=(
        "Hands the broker the scheduled tasks whose time is near (within TASKS_ETA_HORIZON); "
        "tasks due further ahead wait in the database."
    ),
    priority="high",
    time_limit=60,
    schedule={"every": 60},
    system_only=True,
)
def release_scheduled(ctx: TaskContext, payload: dict) -> dict:
    return {"released": dispatch.release_due()}
