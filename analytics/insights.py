"""Insights: findings computed from the window's figures, each explained with its evidence
and ranked (severity first, then how far it is from normal).

Every finding is `{"kind", "severity", "title", "explanation", "evidence", "subject", "score"}`,
where `subject` names the object it is about (`{"type", "id", "name"}`). All figures come from
aggregate queries over the window (and the window before it, or the trailing days).
"""

import math
from datetime import timedelta

from django.conf import settings
from django.db.models import Avg, Count, Max, Q, Sum
from django.utils import timezone

from analytics.selectors import runs_in, step_runs_in
from analytics.window import Window
from workflows import selectors as wf_selectors
from workflows.models import Budget, RunStatus, StepStatus, WorkflowStatus

SEVERITY_RANK = {"critical": 3, "high": 2, "warning": 1, "info": 0}
TOP_STEPS = 3


def _insight(kind, severity, title, explanation, evidence, subject, score) -> dict:
    return {
        "kind": kind,
        "severity": severity,
        "title": title,
        "explanation": explanation,
        "evidence": evidence,
        "subject": subject,
        "score": round(float(score), 4),
    }


def _failure_rates(window: Window) -> dict[int, dict]:
    rows = (
        runs_in(window)
        .values("workflow_id", "workflow__name")
        .annotate(
            failed=Count("id", filter=Q(status=RunStatus.FAILED)),
            finished=Count("id", filter=Q(status__in=[RunStatus.FAILED, RunStatus.SUCCEEDED])),
        )
    )
    return {r["workflow_id"]: r for r in rows}


def failure_rate_rises(window: Window) -> list[dict]:
    """A workflow failing more often than in the window before (both rates shown)."""
    now, before = _failure_rates(window), _failure_rates(window.previous())
    found = []
    min_runs = settings.ANALYTICS_INSIGHT_MIN_RUNS
    for workflow_id, cur in now.items():
        if cur["finished"] < min_runs:
            continue
        prev = before.get(workflow_id, {"failed": 0, "finished": 0})
        rate = cur["failed"] / cur["finished"]
        prev_rate = prev["failed"] / prev["finished"] if prev["finished"] else 0.0
        rise = rate - prev_rate
        if rise < settings.ANALYTICS_INSIGHT_FAILURE_RISE:
            continue
        found.append(
            _insight(
                "failure_rate_rise",
                "high" if rise >= 0.3 else "warning",
                f"{cur['workflow__name']}: failure rate rose to {rate:.0%}",
                f"{cur['failed']} of {cur['finished']} finished runs failed, against "
                f"{prev['failed']} of {prev['finished']} ({prev_rate:.0%}) in the period before.",
                {
                    "failure_rate": round(rate, 4),
                    "previous_failure_rate": round(prev_rate, 4),
                    "failed": cur["failed"],
                    "finished": cur["finished"],
                    "previous_failed": prev["failed"],
                    "previous_finished": prev["finished"],
                },
                {"type": "workflow", "id": workflow_id, "name": cur["workflow__name"]},
                rise,
            )
        )
    return found


def _step_rows(window: Window, order: str):
    return (
        step_runs_in(window)
        .filter(status=StepStatus.SUCCEEDED)
        .values("run__workflow_id", "run__workflow__name", "key")
        .annotate(
            runs=Count("id"),
            avg_latency_ms=Avg("latency_ms"),
            max_latency_ms=Max("latency_ms"),
            cost=Sum("cost"),
            tokens=Sum("tokens_in") + Sum("tokens_out"),
        )
        .order_by(order, "key")
    )


def _step_subject(row) -> dict:
    return {
        "type": "step",
        "id": row["key"],
        "workflow_id": row["run__workflow_id"],
        "name": f"{row['run__workflow__name']} / {row['key']}",
    }


def slowest_steps(window: Window) -> list[dict]:
    rows = _step_rows(window, "-avg_latency_ms").filter(latency_ms__isnull=False)[:TOP_STEPS]
    return [
        _insight(
            "slowest_step",
            "info",
            f"Slow step: {_step_subject(r)['name']} ({r['avg_latency_ms']:.0f} ms on average)",
            f"Averaged {r['avg_latency_ms']:.0f} ms over {r['runs']} successful runs "
            f"(slowest {r['max_latency_ms']:.0f} ms).",
            {
                "avg_latency_ms": round(r["avg_latency_ms"], 3),
                "max_latency_ms": r["max_latency_ms"],
                "runs": r["runs"],
            },
            _step_subject(r),
            rank_score,
        )
        for rank_score, r in zip((0.3, 0.2, 0.1), rows, strict=False)
    ]


def costliest_steps(window: Window) -> list[dict]:
    rows = _step_rows(window, "-cost").filter(cost__gt=0)[:TOP_STEPS]
    return [
        _insight(
            "costliest_step",
            "info",
            f"Costly step: {_step_subject(r)['name']} ({float(r['cost']):.4f})",
            f"Cost {float(r['cost']):.4f} over {r['runs']} successful runs "
            f"({r['tokens'] or 0} tokens).",
            {"cost": round(float(r["cost"]), 6), "runs": r["runs"], "tokens": r["tokens"] or 0},
            _step_subject(r),
            rank_score,
        )
        for rank_score, r in zip((0.3, 0.2, 0.1), rows, strict=False)
    ]


def cost_anomalies(window: Window) -> list[dict]:
    """The window's last 24 hours against the trailing days before them: the z-score of the
    daily cost, per workspace, from one grouped query (a SUM ... FILTER per day)."""
    days = settings.ANALYTICS_INSIGHT_TRAILING_DAYS
    day_start = window.until - timedelta(days=1)
    trailing = Window(
        since=day_start - timedelta(days=days),
        until=window.until,
        time_range=None,
        workspace_ids=window.workspace_ids,
        workflow_id=window.workflow_id,
    )
    bounds = [(day_start - timedelta(days=i), day_start - timedelta(days=i - 1))
              for i in range(days, 0, -1)]  # fmt: skip
    rows = (
        runs_in(trailing)
        .values("workspace_id", "workspace__name")
        .annotate(
            today=Sum("cost", filter=Q(created_at__gte=day_start)),
            **{
                f"d{i}": Sum("cost", filter=Q(created_at__gte=a, created_at__lt=b))
                for i, (a, b) in enumerate(bounds)
            },
        )
        .order_by("workspace_id")
    )
    found = []
    for row in rows:
        per_day = [float(row[f"d{i}"] or 0) for i in range(days)]
        today = float(row["today"] or 0)
        mean = sum(per_day) / days
        std = math.sqrt(sum((c - mean) ** 2 for c in per_day) / days)
        if today <= 0:
            continue
        z = (today - mean) / std if std > 0 else (math.inf if today > mean else 0.0)
        if z < settings.ANALYTICS_INSIGHT_COST_Z:
            continue
        shown_z = round(z, 2) if math.isfinite(z) else None
        big = not math.isfinite(z) or z >= 2 * settings.ANALYTICS_INSIGHT_COST_Z
        found.append(
            _insight(
                "cost_anomaly",
                "high" if big else "warning",
                f"{row['workspace__name']}: cost {today:.4f} in the last day, "
                f"against {mean:.4f} a day before",
                f"The last 24 h cost {today:.4f}; the {days} days before averaged {mean:.4f} "
                f"(standard deviation {std:.4f}), a z-score of "
                f"{shown_z if shown_z is not None else 'infinity (no variation before)'}.",
                {
                    "cost_last_day": round(today, 6),
                    "trailing_mean": round(mean, 6),
                    "trailing_std": round(std, 6),
                    "z_score": shown_z,
                    "trailing_days": days,
                    "daily_costs": [round(c, 6) for c in per_day],
                },
                {"type": "workspace", "id": row["workspace_id"], "name": row["workspace__name"]},
                min(z, 1000.0) / 10,
            )
        )
    return found


def budget_projections(window: Window) -> list[dict]:
    """This month's spend so far, projected to the month's end, against the budget."""
    now = timezone.now()
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    elapsed = (now - month_start) / (next_month - month_start)
    budgets = Budget.objects.filter(
        workspace_id__in=window.workspace_ids, monthly_cost_limit__isnull=False
    ).select_related("workspace")
    found = []
    for budget in budgets:
        month = Window(
            since=month_start,
            until=now,
            time_range=None,
            workspace_ids=(budget.workspace_id,),
        )
        spent = float(runs_in(month).aggregate(c=Sum("cost"))["c"] or 0)
        limit = float(budget.monthly_cost_limit)
        projected = spent / elapsed if elapsed > 0 else spent
        ratio = projected / limit if limit > 0 else math.inf
        if ratio < 0.8:
            continue
        severity = "critical" if spent >= limit else "high" if ratio >= 1 else "warning"
        found.append(
            _insight(
                "budget_projection",
                severity,
                f"{budget.workspace.name}: projected spend {projected:.2f} against a "
                f"budget of {limit:.2f}",
                f"{spent:.4f} spent in {elapsed:.0%} of the month; at this pace the month "
                f"ends at {projected:.4f} ({ratio:.0%} of the budget).",
                {
                    "spent": round(spent, 6),
                    "projected": round(projected, 6),
                    "budget": limit,
                    "month_elapsed": round(elapsed, 4),
                    "projected_ratio": round(ratio, 4) if math.isfinite(ratio) else None,
                },
                {"type": "workspace", "id": budget.workspace_id, "name": budget.workspace.name},
                min(ratio, 100.0),
            )
        )
    return found


def _last_run(moment) -> str:
    return "never run" if moment is None else f"last run {moment.date().isoformat()}"


def idle_workflows(window: Window) -> list[dict]:
    """Active workflows, at least 30 days old, with no run in the last 30 days."""
    days = settings.ANALYTICS_IDLE_DAYS
    cutoff = timezone.now() - timedelta(days=days)
    rows = (
        wf_selectors.workflows_in_workspaces(window.workspace_ids)
        .filter(status=WorkflowStatus.ACTIVE, created_at__lt=cutoff)
        .annotate(last_run=Max("runs__created_at"))
        .filter(Q(last_run__isnull=True) | Q(last_run__lt=cutoff))
        .order_by("id")
        .values("id", "name", "last_run")[:20]
    )
    return [
        _insight(
            "idle_workflow",
            "info",
            f"{r['name']}: no run in {days} days",
            f"Active but not run in {days} days ({_last_run(r['last_run'])}); "
            "archive it or schedule it.",
            {"last_run_at": r["last_run"], "idle_days": days},
            {"type": "workflow", "id": r["id"], "name": r["name"]},
            0.05,
        )
        for r in rows
    ]  # fmt: skip


def _model_latency(window: Window) -> dict[str, dict]:
    rows = (
        step_runs_in(window)
        .filter(status=StepStatus.SUCCEEDED, latency_ms__isnull=False)
        .exclude(model="")
        .values("model")
        .annotate(steps=Count("id"), avg=Avg("latency_ms"))
    )
    return {r["model"]: r for r in rows}


def model_latency_rises(window: Window) -> list[dict]:
    now, before = _model_latency(window), _model_latency(window.previous())
    found = []
    for model, cur in now.items():
        prev = before.get(model)
        min_steps = settings.ANALYTICS_INSIGHT_MIN_RUNS
        if prev is None or cur["steps"] < min_steps or prev["steps"] < min_steps or not prev["avg"]:
            continue
        growth = cur["avg"] / prev["avg"]
        if growth < settings.ANALYTICS_INSIGHT_LATENCY_GROWTH:
            continue
        found.append(
            _insight(
                "model_latency_rise",
                "warning",
                f"{model}: latency up {growth - 1:.0%}",
                f"Average step latency {cur['avg']:.0f} ms over {cur['steps']} steps, against "
                f"{prev['avg']:.0f} ms over {prev['steps']} in the period before.",
                {
                    "avg_latency_ms": round(cur["avg"], 3),
                    "previous_avg_latency_ms": round(prev["avg"], 3),
                    "steps": cur["steps"],
                    "previous_steps": prev["steps"],
                    "growth": round(growth, 4),
                },
                {"type": "model", "id": model, "name": model},
                growth - 1,
            )
        )
    return found


FINDERS = (
    failure_rate_rises,
    cost_anomalies,
    budget_projections,
    model_latency_rises,
    slowest_steps,
    costliest_steps,
    idle_workflows,
)


def insights(window: Window) -> list[dict]:
    found = [insight for finder in FINDERS for insight in finder(window)]
    found.sort(key=lambda i: (-SEVERITY_RANK[i["severity"]], -i["score"], i["kind"]))
    return found
