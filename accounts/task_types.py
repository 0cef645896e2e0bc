"""The accounts app's background task types (discovered by `tasks` at start-up):

- `accounts.retention`: nightly, deletes runs, documents and AI usage records past their
  retention (RUN_RETENTION_DAYS, DOCUMENT_RETENTION_DAYS, USAGE_RETENTION_DAYS; off by
  default).
- `accounts.export_workspace`: builds a workspace's export archive for one of its owners
  (`POST /api/v3/workspaces/{id}/export`); the result names the download.
"""

from tasks.registry import TaskContext, task_type


@task_type(
    "accounts.retention",
    schema={"type": "object", "additionalProperties": False},
    description=(
        "Delete runs, documents and AI usage records older than their retention settings "
        "(documents that kept documents were made from are kept)."
    ),
    priority="low",
    time_limit=3000,
    schedule={"crontab": "45 3 * * *"},
    system_only=True,
)
def retention(ctx: TaskContext, payload: dict) -> dict:
    from accounts.retention import apply_retention

    return apply_retention()


@task_type(
    "accounts.export_workspace",
    schema={
        "type": "object",
        "properties": {"workspace_id": {"type": "integer", "minimum": 1}},
        "required": ["workspace_id"],
        "additionalProperties": False,
    },
    description=(
        "A workspace's export archive (workflows as YAML, runs, documents as Markdown with "
        "their lineage, usage), for its owners; the result gives the download path."
    ),
    priority="low",
    time_limit=1800,
)
def export_workspace(ctx: TaskContext, payload: dict) -> dict:
    from accounts.workspace_export import build_archive

    actor = ctx.actor
    if actor is None:
        raise ValueError("an export needs the owner who asked for it")

    def progress(files: int) -> None:
        ctx.check_cancelled()
        ctx.progress(min(95, files), f"{files} files")

    return build_archive(actor=actor, workspace_id=payload["workspace_id"], progress=progress)
