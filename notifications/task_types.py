"""The notifications app's background task types (discovered by `tasks` at start-up).

- `maintenance.sweep_notifications`: fails deliveries a dead worker left `sending` (never
  resent on their own: they may have arrived) and hands over again queued ones whose message
  was lost; on the beat schedule.
"""

from tasks.registry import TaskContext, task_type


@task_type(
    "maintenance.sweep_notifications",
    schema={"type": "object", "additionalProperties": False},
    description=(
        "Notification deliveries: fail the ones a dead worker left sending, resend lost ones."
    ),
    priority="low",
    time_limit=120,
    schedule={"every": 120},
    system_only=True,
)
def sweep_notifications(ctx: TaskContext, payload: dict) -> dict:
    from notifications.runner import sweep

    return sweep()
