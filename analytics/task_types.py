"""Analytics' background task types (registered with the tasks app; beat runs them)."""

from analytics import services
from tasks.registry import TaskContext, task_type


@task_type(
    "analytics.weekly_reports",
    schema={"type": "object", "additionalProperties": False},
    description="Last week's analytics report for every workspace that ran something.",
    priority="low",
    time_limit=1800,
    schedule={"crontab": "0 6 * * 1"},  # Mondays 06:00 UTC
    system_only=True,
)
def weekly_reports(ctx: TaskContext, payload: dict) -> dict:
    ids = services.weekly_reports()
    return {"reports": len(ids), "report_ids": ids}
