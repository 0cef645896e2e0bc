"""Channel-layer group names, built from ids in this one place.

Channels allows only ASCII letters, digits, hyphens, underscores and periods in group names.
"""


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def workspace_group(workspace_id: int) -> str:
    return f"workspace.{workspace_id}"


def workflow_group(workflow_id: int) -> str:
    return f"workflow.{workflow_id}"


def run_group(run_id: int) -> str:
    return f"run.{run_id}"


def room_group(workspace_id: int, room: str) -> str:
    return f"room.{workspace_id}.{room}"


def api_key_group(prefix: str) -> str:
    """The connections that authenticated with one API key (its public prefix names it)."""
    return f"api_key.{prefix}"
