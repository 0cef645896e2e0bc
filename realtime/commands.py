"""What a client may ask of its connection, one function per message type.

Each command gets the connection (the consumer: its actor, subscriptions and send methods) and
the parsed message; it answers with an event or raises a DomainError, which the consumer turns
into an `error` event. Topic joins subscribe before they read the snapshot, so an event sent in
between is held and sent after the snapshot rather than lost.
"""

from realtime import access, errors, groups, messages, rooms, topics
from realtime.subscriptions import Joined


async def handle(conn, content: dict) -> None:
    kind = content["type"]
    ref = messages.ref_of(content)
    if kind in ROOM_COMMANDS:
        await ROOM_COMMANDS[kind](conn, content, ref)
    elif kind.startswith(("join_", "leave_")) and (
        topic := topics.get_topic(kind.partition("_")[2])
    ):
        command = join_topic if kind.startswith("join_") else leave_topic
        await command(conn, topic, content, ref)
    else:
        raise errors.UnknownType(f"Unknown message type {kind[:64]!r}.")


async def ping(conn, content: dict, ref) -> None:
    await conn.send_event("pong", {}, ref)


# --- topics ---------------------------------------------------------------------------------
async def join_topic(conn, topic: topics.Topic, content: dict, ref) -> None:
    object_id = messages.positive_int(content, topic.id_field)
    group = topic.group(object_id)
    rejoin = await conn.subscriptions.begin(group)
    try:
        snapshot, workspace_id = await access.snapshot(topic, conn.actor, object_id)
    except BaseException:
        if not rejoin:
            await conn.subscriptions.abandon(group)
        raise
    await conn.send_event(f"{topic.name}.snapshot", snapshot, ref)
    if not rejoin:
        joined = Joined(workspace_id, f"{topic.name}.left", {topic.id_field: object_id})
        for message in conn.subscriptions.confirm(group, joined):
            conn.deliver(message)


async def leave_topic(conn, topic: topics.Topic, content: dict, ref) -> None:
    object_id = messages.positive_int(content, topic.id_field)
    await conn.subscriptions.leave(topic.group(object_id))
    await conn.send_event(f"{topic.name}.left", {topic.id_field: object_id}, ref)


# --- rooms ----------------------------------------------------------------------------------
async def join_room(conn, content: dict, ref) -> None:
    workspace_id, room = rooms.room_of(content, conn.default_workspace_id)
    group = groups.room_group(workspace_id, room)
    conn.subscriptions.check_capacity(group)
    await access.require_member(conn.actor, workspace_id)
    if not await conn.subscriptions.begin(group):
        data = {"room": room, "workspace_id": workspace_id}
        conn.subscriptions.confirm(group, Joined(workspace_id, "room.left", data))
    await conn.send_event("room.joined", {"room": room, "workspace_id": workspace_id}, ref)


async def leave_room(conn, content: dict, ref) -> None:
    workspace_id, room = rooms.room_of(content, conn.default_workspace_id)
    await conn.subscriptions.leave(groups.room_group(workspace_id, room))
    await conn.send_event("room.left", {"room": room, "workspace_id": workspace_id}, ref)


async def broadcast(conn, content: dict, ref) -> None:
    workspace_id, room = rooms.room_of(content, conn.default_workspace_id)
    group = groups.room_group(workspace_id, room)
    if group not in conn.subscriptions.joined:
        raise errors.NotInRoom(f"Join room {room!r} before broadcasting to it.")
    await rooms.broadcast(
        group=group,
        workspace_id=workspace_id,
        room=room,
        sender=conn.actor.user,
        content=content,
    )


ROOM_COMMANDS = {
    "ping": ping,
    "join_room": join_room,
    "leave_room": leave_room,
    "broadcast": broadcast,
}
