"""Search's background task types (discovered by `tasks` at start-up)."""

from django.conf import settings

from search import services
from tasks.registry import TaskContext, task_type


@task_type(
    "search.index_pending",
    schema={
        "type": "object",
        "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 100_000}},
        "additionalProperties": False,
    },
    description=(
        "Embeds documents that are not in the semantic index yet (or were embedded with "
        "another model than their workspace's), at most `limit` (default 1000)."
    ),
    priority="low",
    time_limit=1800,
    schedule={"every": settings.SEARCH_INDEX_SWEEP_SECONDS},
    system_only=True,
)
def index_pending(ctx: TaskContext, payload: dict) -> dict:
    return {"indexed": services.index_pending(limit=payload.get("limit", 1000))}
