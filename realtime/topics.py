"""Topics: what a WebSocket client may subscribe to, registered by the apps that own the data.

realtime imports no domain app. An app that wants its objects watched registers a topic from its
`AppConfig.ready()`:

    register_topic(
        "workflow",
        group=groups.workflow_group,
        snapshot=selectors.workflow_snapshot,
        workspace_of=selectors.workflow_workspace_id,
    )

and clients then send `{"type": "join_workflow", "workflow_id": 12}` / `leave_workflow`.
On a join the consumer calls `snapshot(actor, 12)` (sync code, run through
`database_sync_to_async`): it returns the object's current state as JSON-able data, or raises
`config.errors.NotFound` when the actor may not see it (use `accounts.scoping`), or another
`DomainError` (e.g. `InsufficientRole`). The client then receives `workflow.snapshot` with that
data, and every event published to `group(12)` until it leaves, or until it loses access to
the workspace `workspace_of(12)` names (sync code too; None for an object in no workspace,
which only leaving ends).

The /realtime/ page draws runs and steps from what it receives, and expects (extra keys are
fine): a snapshot with `runs: [{id, status, steps: [{key, status}]}]` (a run snapshot may be
`{run: {...}}` or the run itself); `run.<status>` events with `{run_id, workflow_id?, status?}`
and `step.<status>` events with `{run_id, step_key, workflow_id?, status?, error?}` (a missing
`status` is taken from the event type).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accounts.scoping import Actor

# Built-in message types own these names; a topic may not shadow them.
RESERVED_NAMES = frozenset({"room"})
NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,31}$")

Snapshot = Callable[[Actor, int], dict[str, Any]]
WorkspaceOf = Callable[[int], int | None]


@dataclass(frozen=True)
class Topic:
    name: str
    group: Callable[[int], str]
    snapshot: Snapshot
    workspace_of: WorkspaceOf

    @property
    def id_field(self) -> str:
        return f"{self.name}_id"


_topics: dict[str, Topic] = {}


def register_topic(
    name: str, *, group: Callable[[int], str], snapshot: Snapshot, workspace_of: WorkspaceOf
) -> None:
    """Make `join_<name>` / `leave_<name>` available. Registering a name again replaces it
    (AppConfig.ready() may run more than once in tests)."""
    if not NAME_RE.match(name) or name in RESERVED_NAMES:
        raise ValueError(f"invalid topic name {name!r}: lowercase letters and digits, not 'room'")
    _topics[name] = Topic(name=name, group=group, snapshot=snapshot, workspace_of=workspace_of)


def unregister_topic(name: str) -> None:
    _topics.pop(name, None)


def get_topic(name: str) -> Topic | None:
    return _topics.get(name)


def topic_names() -> list[str]:
    return sorted(_topics)
