"""The audit's background task types (discovered by `tasks`), both on the beat schedule:

- `audit.verify`: walk every hash chain nightly; a broken one raises a critical security
  event (`audit.verify_failed`), which the rules and notifications hear of.
- `audit.retention`: delete rows older than AUDIT_RETENTION_DAYS, keeping a signed checkpoint.
- `audit.flush_counts`: write the final count of the high-volume events' ended windows.
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


@task_type(
    "audit.flush_counts",
    schema={"type": "object", "additionalProperties": False},
    description="Write the final count of each ended window of counted events (403, 404, 429).",
    priority="low",
    time_limit=120,
    schedule={"every": 60},
    system_only=True,
)
def flush_counts(ctx: TaskContext, payload: dict) -> dict:
    from audit.services import flush_closed_windows

    return {"rows_updated": flush_closed_windows()}
