"""Reads: task records scoped to what the caller may see, and the numbers behind the stats."""

from datetime import timedelta

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from accounts.scoping import Actor, scope_to_workspaces
from config import dbfuncs
from tasks.models import BackgroundTask, Status

THROUGHPUT_WINDOWS = {"last_1_min": 1, "last_5_min": 5, "last_15_min": 15}


def tasks_for(actor: Actor) -> QuerySet[BackgroundTask]:
    """Tasks in the caller's workspaces (system jobs have none, so only the admin shows them)."""
    return scope_to_workspaces(BackgroundTask.objects.all(), actor).select_related("submitted_by")


def all_tasks() -> QuerySet[BackgroundTask]:
    return BackgroundTask.objects.all()


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def task_stats(tasks: QuerySet[BackgroundTask]) -> dict:
    now = timezone.now()
    unordered = tasks.order_by()
    by_status = {s: 0 for s in Status.values}
    for status, count in unordered.values_list("status").annotate(n=Count("pk")):
        by_status[status] = count
    by_type: dict[str, dict[str, int]] = {}
    for task_type, status, count in unordered.values_list("task_type", "status").annotate(
        n=Count("pk")
    ):
        by_type.setdefault(task_type, {"total": 0})
        by_type[task_type][status] = count
        by_type[task_type]["total"] += count
    succeeded = unordered.filter(status=Status.SUCCEEDED, duration_ms__isnull=False)
    durations = dbfuncs.percentiles(succeeded, F("duration_ms"), (0.5, 0.95))[None]
    completed = (Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT)
    windows = unordered.filter(
        status__in=completed, finished_at__gte=now - timedelta(minutes=15)
    ).aggregate(
        **{
            name: Count("pk", filter=Q(finished_at__gte=now - timedelta(minutes=minutes)))
            for name, minutes in THROUGHPUT_WINDOWS.items()
        }
    )
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "by_type": dict(sorted(by_type.items())),
        # Nearest-rank percentiles over every succeeded task, computed by the database.
        "duration_ms": {
            "sample": succeeded.count(),
            "p50": _int(durations["p50"]),
            "p95": _int(durations["p95"]),
        },
        "throughput": {
            name: {
                "completed": windows[name],
                "per_minute": round(windows[name] / minutes, 3),
            }
            for name, minutes in THROUGHPUT_WINDOWS.items()
        },
    }


def tasks_in_workspaces(workspace_ids) -> QuerySet[BackgroundTask]:
    """For analytics, whose window has already checked the workspace ids."""
    return BackgroundTask.objects.filter(workspace_id__in=list(workspace_ids)).order_by()
