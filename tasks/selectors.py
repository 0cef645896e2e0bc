"""Reads: task records scoped to what the caller may see, and the numbers behind the stats."""

from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.scoping import Actor, scope_to_workspaces
from config.stats import percentile
from tasks.models import BackgroundTask, Status

THROUGHPUT_WINDOWS = {"last_1_min": 1, "last_5_min": 5, "last_15_min": 15}
# Percentiles come from the most recent finished tasks, this many at most.
DURATION_SAMPLE = 5000


def tasks_for(actor: Actor) -> QuerySet[BackgroundTask]:
    """Tasks in the caller's workspaces (system jobs have none, so only the admin shows them)."""
    return scope_to_workspaces(BackgroundTask.objects.all(), actor).select_related("submitted_by")


def all_tasks() -> QuerySet[BackgroundTask]:
    return BackgroundTask.objects.all()


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
    durations = sorted(
        unordered.filter(status=Status.SUCCEEDED, duration_ms__isnull=False)
        .order_by("-finished_at")
        .values_list("duration_ms", flat=True)[:DURATION_SAMPLE]
    )
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
        "duration_ms": {
            "sample": len(durations),
            "p50": percentile(durations, 0.50),
            "p95": percentile(durations, 0.95),
        },
        "throughput": {
            name: {
                "completed": windows[name],
                "per_minute": round(windows[name] / minutes, 3),
            }
            for name, minutes in THROUGHPUT_WINDOWS.items()
        },
    }
