"""Rooms: named channels inside a workspace (`room.<workspace>.<name>`), joined by members of
that workspace, where members broadcast to each other."""

import json
import re

from django.conf import settings

from config.errors import NotFound
from realtime import errors, events
from realtime.messages import positive_int

ROOM_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def room_of(content: dict, default_workspace_id: int | None) -> tuple[int, str]:
    """The (workspace id, room name) a message names; the workspace defaults to the
    connection's own."""
    room = content.get("room")
    if not isinstance(room, str) or not ROOM_RE.match(room):
        raise errors.InvalidMessage('"room" must be 1-64 letters, digits, hyphens or underscores.')
    workspace_id = content.get("workspace_id", default_workspace_id)
    if workspace_id is None:
        raise NotFound("You are not a member of any workspace.")
    return positive_int({"workspace_id": workspace_id}, "workspace_id"), room


async def broadcast(*, group: str, workspace_id: int, room: str, sender, content: dict) -> None:
    if "data" not in content:
        raise errors.InvalidMessage('A broadcast needs "data".')
    size = len(json.dumps(content["data"]).encode())
    if size > settings.REALTIME_MAX_BROADCAST_BYTES:
        raise errors.MessageTooLarge(
            f"The broadcast data has {size} bytes; the limit is "
            f"{settings.REALTIME_MAX_BROADCAST_BYTES}."
        )
    await events.apublish(
        "room.message",
        {
            "room": room,
            "workspace_id": workspace_id,
            "sender": {"user_id": sender.pk, "username": sender.username},
            "data": content["data"],
        },
        groups=[group],
    )
