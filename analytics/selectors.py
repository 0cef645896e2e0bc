"""Analytics reads: summaries and time series of a Window, computed in the database.

Every figure is an aggregate query (COUNT/SUM/AVG with FILTER, GROUP BY, percentiles from
config.dbfuncs); nothing iterates over runs in Python. Other apps' rows are read through
their selectors (workflows, tasks, ai), already limited to the window's workspaces.
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Avg, Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDay, TruncHour, TruncWeek
from django.utils import timezone

from ai import selectors as ai_selectors
from analytics.errors import InvalidQuery
from analytics.window import Window
from config import dbfuncs
from tasks import selectors as task_selectors
from workflows import selectors as wf_selectors
from workflows.models import RunStatus, StepStatus

TOP_N = 20  # rows in each "by_..." breakdown, largest first
ZERO = Coalesce  # readability below: Coalesce(Sum(x), 0)


def runs_in(window: Window) -> QuerySet:
    runs = wf_selectors.runs_in_workspaces(window.workspace_ids).filter(
        created_at__gte=window.since, created_at__lt=window.until
    )
    if window.workflow_id is not None:
        runs = runs.filter(workflow_id=window.workflow_id)
    return runs


def step_runs_in(window: Window) -> QuerySet:
    steps = wf_selectors.step_runs_in_workspaces(window.workspace_ids).filter(
        run__created_at__gte=window.since, run__created_at__lt=window.until
    )
    if window.workflow_id is not None:
        steps = steps.filter(run__workflow_id=window.workflow_id)
    return steps


def run_seconds():
    return dbfuncs.SecondsBetween("finished_at", "started_at")


def _num(value, places: int = 6):
    if value is None:
        return 0
    return round(float(value), places)


def _by_status_aggregates(choices) -> dict:
    return {f"n_{status}": Count("id", filter=Q(status=status)) for status in choices}


def _pick_status(row: dict, choices) -> dict:
    return {status: row[f"n_{status}"] for status in choices}


def _success_rate(succeeded: int, failed: int) -> float | None:
    finished = succeeded + failed
    return round(succeeded / finished, 4) if finished else None


def _with_percentiles(queryset, value, aggregates: dict) -> tuple[dict, dict]:
    """aggregate(**aggregates) plus percentiles of `value`: in the same query on PostgreSQL,
    in a second one (the window-function fallback) elsewhere."""
    pct = dbfuncs.percentile_aggregate(value)
    if pct is not None:
        row = queryset.aggregate(**aggregates, _pct=pct)
        return row, dbfuncs.unpack(row.pop("_pct"))
    row = queryset.aggregate(**aggregates)
    return row, dbfuncs.percentiles(queryset, value)[None]


def _grouped(queryset, group: list[str], value, aggregates: dict, order: str) -> list[dict]:
    """values(*group).annotate(...) top TOP_N, each row with its percentiles of `value`."""
    pct = dbfuncs.percentile_aggregate(value)
    rows = queryset.values(*group).annotate(**aggregates)
    if pct is not None:
        rows = rows.annotate(_pct=pct)
    rows = list(rows.order_by(order, *group)[:TOP_N])
    if pct is None and rows:
        key = group[0]
        subset = queryset.filter(**{f"{key}__in": [r[key] for r in rows]})
        found = dbfuncs.percentiles(subset, value, group_by=key)
        for row in rows:
            row["_pct"] = found.get(row[key])
    for row in rows:
        pct_row = row.pop("_pct", None)
        row["percentiles"] = pct_row if isinstance(pct_row, dict) else dbfuncs.unpack(pct_row)
    return rows


def run_figures(window: Window) -> dict:
    runs = runs_in(window)
    row, pct = _with_percentiles(
        runs,
        run_seconds(),
        {
            "total": Count("id"),
            **_by_status_aggregates(RunStatus.values),
            "tokens_in": ZERO(Sum("tokens_in"), 0),
            "tokens_out": ZERO(Sum("tokens_out"), 0),
            "cost": Sum("cost"),
            "mean_seconds": Avg(run_seconds()),
            "active_users": Count("created_by", distinct=True),
        },
    )
    by_status = _pick_status(row, RunStatus.values)
    return {
        "total": row["total"],
        "by_status": by_status,
        "success_rate": _success_rate(by_status[RunStatus.SUCCEEDED], by_status[RunStatus.FAILED]),
        "duration_seconds": {**pct, "mean": _num(row["mean_seconds"])},
        "tokens": {
            "in": row["tokens_in"],
            "out": row["tokens_out"],
            "total": row["tokens_in"] + row["tokens_out"],
        },
        "cost": _num(row["cost"]),
        "active_users": row["active_users"],
    }


def step_figures(window: Window) -> dict:
    steps = step_runs_in(window)
    row, pct = _with_percentiles(
        steps,
        F("latency_ms"),
        {
            "total": Count("id"),
            **_by_status_aggregates(StepStatus.values),
            "mean_ms": Avg("latency_ms"),
            "attempts": ZERO(Sum("attempts"), 0),
        },
    )
    return {
        "total": row["total"],
        "by_status": _pick_status(row, StepStatus.values),
        "attempts": row["attempts"],
        "latency_ms": {**pct, "mean": _num(row["mean_ms"], 3)},
    }


def by_workflow(window: Window) -> list[dict]:
    rows = _grouped(
        runs_in(window),
        ["workflow_id", "workflow__name"],
        run_seconds(),
        {
            "runs": Count("id"),
            "succeeded": Count("id", filter=Q(status=RunStatus.SUCCEEDED)),
            "failed": Count("id", filter=Q(status=RunStatus.FAILED)),
            "tokens_in": ZERO(Sum("tokens_in"), 0),
            "tokens_out": ZERO(Sum("tokens_out"), 0),
            "cost": Sum("cost"),
        },
        "-runs",
    )
    return [
        {
            "workflow_id": r["workflow_id"],
            "name": r["workflow__name"],
            "runs": r["runs"],
            "succeeded": r["succeeded"],
            "failed": r["failed"],
            "success_rate": _success_rate(r["succeeded"], r["failed"]),
            "tokens_in": r["tokens_in"],
            "tokens_out": r["tokens_out"],
            "cost": _num(r["cost"]),
            "duration_seconds": r["percentiles"],
        }
        for r in rows
    ]


def by_model(window: Window) -> list[dict]:
    rows = _grouped(
        step_runs_in(window).exclude(model=""),
        ["model"],
        F("latency_ms"),
        {
            "steps": Count("id"),
            "failed": Count("id", filter=Q(status=StepStatus.FAILED)),
            "tokens_in": ZERO(Sum("tokens_in"), 0),
            "tokens_out": ZERO(Sum("tokens_out"), 0),
            "cost": Sum("cost"),
        },
        "-steps",
    )
    return [
        {
            "model": r["model"],
            "steps": r["steps"],
            "failed": r["failed"],
            "tokens_in": r["tokens_in"],
            "tokens_out": r["tokens_out"],
            "cost": _num(r["cost"]),
            "latency_ms": r["percentiles"],
        }
        for r in rows
    ]


def by_user(window: Window) -> list[dict]:
    rows = (
        runs_in(window)
        .values("created_by_id", "created_by__username")
        .annotate(
            runs=Count("id"),
            succeeded=Count("id", filter=Q(status=RunStatus.SUCCEEDED)),
            failed=Count("id", filter=Q(status=RunStatus.FAILED)),
            tokens=ZERO(Sum("tokens_in"), 0) + ZERO(Sum("tokens_out"), 0),
            cost=Sum("cost"),
        )
        .order_by("-runs", "created_by_id")[:TOP_N]
    )
    return [
        {
            "user_id": r["created_by_id"],
            "username": r["created_by__username"],
            "runs": r["runs"],
            "succeeded": r["succeeded"],
            "failed": r["failed"],
            "tokens": r["tokens"],
            "cost": _num(r["cost"]),
        }
        for r in rows
    ]


def background_task_figures(window: Window) -> dict:
    tasks = task_selectors.tasks_in_workspaces(window.workspace_ids).filter(
        created_at__gte=window.since, created_at__lt=window.until
    )
    by_status: dict[str, int] = {}
    by_type: dict[str, dict[str, int]] = {}
    for task_type, status, n in tasks.values_list("task_type", "status").annotate(n=Count("id")):
        by_status[status] = by_status.get(status, 0) + n
        entry = by_type.setdefault(task_type, {"total": 0})
        entry[status] = n
        entry["total"] += n
    return {
        "total": sum(by_status.values()),
        "by_status": dict(sorted(by_status.items())),
        "by_type": dict(sorted(by_type.items())),
    }


def ai_usage_figures(window: Window) -> dict:
    """Every model call through the AI gateway (steps and direct /ai/generate calls alike)."""
    rows = ai_selectors.usage_in_workspaces(window.workspace_ids).filter(
        created_at__gte=window.since, created_at__lt=window.until
    )
    totals = ai_selectors.usage_totals_of(rows)
    calls = totals["calls"]
    return {**totals, "cache_hit_rate": round(totals["cached_calls"] / calls, 4) if calls else None}


def notification_figures(window: Window) -> dict:
    """Notification deliveries created in the window, by status and by channel: one GROUP BY
    channel with a filtered COUNT per status. Deliveries belong to a workspace, not to a
    workflow, so a `workflow` filter does not narrow them (`workflow_filter` says so)."""
    from notifications import selectors as notification_selectors
    from notifications.models import DeliveryStatus

    rows = (
        notification_selectors.deliveries_in_workspaces(window.workspace_ids)
        .filter(created_at__gte=window.since, created_at__lt=window.until)
        .order_by()
        .values("channel_kind")
        .annotate(total=Count("id"), **_by_status_aggregates(DeliveryStatus.values))
        .order_by("channel_kind")
    )
    by_channel = {
        row["channel_kind"]: {"total": row["total"], **_pick_status(row, DeliveryStatus.values)}
        for row in rows
    }
    by_status = {
        status: sum(channel[status] for channel in by_channel.values())
        for status in DeliveryStatus.values
    }
    return {
        "total": sum(channel["total"] for channel in by_channel.values()),
        "sent": by_status[DeliveryStatus.SENT],
        "failed": by_status[DeliveryStatus.FAILED],
        "by_status": by_status,
        "by_channel": by_channel,
        "workflow_filter": "not applicable" if window.workflow_id is not None else None,
    }


def summary(window: Window) -> dict:
    runs = run_figures(window)
    return {
        "window": window.describe(),
        "runs": {k: runs[k] for k in ("total", "by_status", "success_rate", "duration_seconds")},
        "steps": step_figures(window),
        "tokens": runs["tokens"],
        "cost": runs["cost"],
        "active_users": runs["active_users"],
        "by_workflow": by_workflow(window),
        "by_model": by_model(window),
        "by_user": by_user(window),
        "background_tasks": background_task_figures(window),
        "ai_usage": ai_usage_figures(window),
        "notifications": notification_figures(window),
    }


# --- Time series ----------------------------------------------------------------------------

BUCKETS = {
    "hour": (TruncHour, timedelta(hours=1)),
    "day": (TruncDay, timedelta(days=1)),
    "week": (TruncWeek, timedelta(days=7)),
}
METRICS = ("runs", "failures", "tokens", "cost", "duration_p95")


def _bucket_start(moment: datetime, bucket: str) -> datetime:
    moment = moment.astimezone(UTC)
    start = moment.replace(minute=0, second=0, microsecond=0)
    if bucket in ("day", "week"):
        start = start.replace(hour=0)
    if bucket == "week":  # ISO weeks start on Monday, as date_trunc('week') does
        start -= timedelta(days=start.weekday())
    return start


def bucket_starts(window: Window, bucket: str) -> list[datetime]:
    step = BUCKETS[bucket][1]
    first = _bucket_start(window.since, bucket)
    count = int((window.until - first) / step) + 1
    if count > settings.ANALYTICS_MAX_BUCKETS:
        raise InvalidQuery(
            f"That range has {count} {bucket} buckets; the most is "
            f"{settings.ANALYTICS_MAX_BUCKETS}. Use a larger bucket or a shorter range.",
            details={"buckets": count, "max_buckets": settings.ANALYTICS_MAX_BUCKETS},
        )
    starts = [first + step * i for i in range(count)]
    return [s for s in starts if s < window.until]


def timeseries(window: Window, *, metric: str, bucket: str) -> dict:
    if metric not in METRICS:
        raise InvalidQuery(
            f"Unknown metric {str(metric)[:40]!r}; use one of {', '.join(METRICS)}.",
            details={"metric": str(metric)[:100], "allowed": list(METRICS)},
        )
    if bucket not in BUCKETS:
        raise InvalidQuery(
            f"Unknown bucket {str(bucket)[:40]!r}; use one of {', '.join(BUCKETS)}.",
            details={"bucket": str(bucket)[:100], "allowed": list(BUCKETS)},
        )
    starts = bucket_starts(window, bucket)
    trunc = BUCKETS[bucket][0]("created_at", tzinfo=UTC)
    runs = runs_in(window).annotate(bucket=trunc)
    if metric == "duration_p95":
        found = dbfuncs.percentiles(runs, run_seconds(), (0.95,), group_by="bucket")
        values = {_as_utc(k): v["p95"] for k, v in found.items()}
        empty = None
    else:
        aggregate = {
            "runs": Count("id"),
            "failures": Count("id", filter=Q(status=RunStatus.FAILED)),
            "tokens": ZERO(Sum("tokens_in"), 0) + ZERO(Sum("tokens_out"), 0),
            "cost": Sum("cost"),
        }[metric]
        rows = runs.values("bucket").annotate(value=aggregate).order_by("bucket")
        values = {_as_utc(r["bucket"]): r["value"] for r in rows}
        empty = 0
    points = []
    for start in starts:
        value = values.get(start, empty)
        if metric == "cost" and value is not None:
            value = _num(value)
        points.append({"bucket": start, "value": value})
    return {
        "window": window.describe(),
        "metric": metric,
        "bucket": bucket,
        "points": points,
    }


def _as_utc(value) -> datetime:
    if isinstance(value, str):  # SQLite through a raw percentile query returns text
        from django.utils.dateparse import parse_datetime

        value = parse_datetime(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value.astimezone(UTC)
