"""The audit's background task types (discovered by `tasks`), both on the beat schedule:

- `audit.verify`: walk every hash chain nightly; a broken one raises a critical security
  event (`audit.verify_failed`), which the rules and notifications hear of.
- `audit.retention`: delete rows older than AUDIT_RETENTION_DAYS, keeping a signed checkpoint.
"""

from tasks.registry import TaskContext, task_type


@task_type(
    "audit.verify",
    schema={
        "type": "object",
        "properties": {"workspace_id": {"type": "integer", "minimum": 1}},
        "additionalProperties": False,
    },
    description="Verify the audit log's hash chains; a broken chain is a critical event.",
    priority="low",
    time_limit=3000,
    schedule={"crontab": "30 2 * * *"},
    system_only=True,
)
def verify(ctx: TaskContext, payload: dict) -> dict:
    from audit.verification import verify_and_report

    return verify_and_report(workspace_id=payload.get("workspace_id"))


@task_type(
    "audit.retention",
    schema={"type": "object", "additionalProperties": False},
    description="Delete audit rows older than AUDIT_RETENTION_DAYS (signed checkpoints kept).",
    priority="low",
    time_limit=3000,
    schedule={"crontab": "0 3 * * *"},
    system_only=True,
)
def retention(ctx: TaskContext, payload: dict) -> dict:
    from audit.retention import purge

    return purge()
