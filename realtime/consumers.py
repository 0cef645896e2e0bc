"""The one WebSocket endpoint, `/api/v3/ws/ws`.

Client messages are JSON objects `{"type": ..., ...}`; an optional `ref` is echoed in the reply
(`data.ref`) so a client can match answers to requests.
  ping                                    -> pong
  join_<topic> {"<topic>_id": N}          -> <topic>.snapshot, then the topic's events
  leave_<topic> {"<topic>_id": N}         -> <topic>.left
  join_room / leave_room {"room", "workspace_id"?}  -> room.joined / room.left
  broadcast {"room", "data", "workspace_id"?}       -> room.message to everyone in the room
Topics are registered by the apps that own them (`realtime.topics`). Rooms live inside a
workspace: `workspace_id` defaults to the connection's own workspace (an API key's workspace,
else the user's personal one), so two workspaces' rooms of one name never meet.

Every connection joins its user's group (`user.<id>`) and nothing else until it asks; each join
is authorized when it is made, and remembers its workspace: when the user loses access to that
workspace (`realtime.revocation`), the connection leaves what it joined there. A connection ends
with its credential: a JWT's or API key's expiry, or the key's revocation. Bad messages,
forbidden joins and limits get an `error` event and the connection stays open; a client that
keeps exceeding the message rate is closed with 4429.
"""

import asyncio
import json
import logging
import re
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts.models import Role
from accounts.scoping import Actor, memberships_for, role_in
from config.errors import DomainError, NotFound
from realtime import auth, errors, events, fanout, groups, topics
from realtime.limits import TokenBucket
from realtime.revocation import (
    ACCESS_REVOKED,
    ACCOUNT_DISABLED,
    API_KEY_REVOKED,
    SESSION_REVOKED,
)
from realtime.stats import process_stats

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FLOODING = 4429
CLOSE_TOO_SLOW = 4408  # the client does not read its events fast enough
ROOM_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# An event published to two groups a connection is in (a run and its workflow) is sent once.
SEEN_EVENTS = 512


@database_sync_to_async
def _default_workspace_id(actor: Actor) -> int | None:
    if actor.api_key is not None:
        return actor.api_key.workspace_id
    memberships = memberships_for(actor)
    personal = memberships.filter(workspace__is_personal=True, role=Role.OWNER).first()
    chosen = personal or memberships.order_by("workspace_id").first()
    return chosen.workspace_id if chosen else None


@database_sync_to_async
def _require_member(actor: Actor, workspace_id: int) -> None:
    if role_in(actor, workspace_id) is None:
        raise NotFound("No such workspace.", details={"workspace_id": workspace_id})


@database_sync_to_async
def _snapshot(topic: topics.Topic, actor: Actor, object_id: int) -> tuple[dict, int | None]:
    """The topic's snapshot for the actor, and the workspace its object belongs to."""
    return topic.snapshot(actor, object_id), topic.workspace_of(object_id)


@dataclass(frozen=True)
class Joined:
    """A topic or room a connection is in: the workspace it belongs to (None: no workspace's),
    and the event its leave is answered with."""

    workspace_id: int | None
    left_type: str
    left_data: dict[str, Any]


# Every connection in a group forwards the same event: serialize it once per process.
_recent_texts: OrderedDict[str, str] = OrderedDict()


def _serialized(event: dict) -> str:
    event_id = event.get("id")
    text = _recent_texts.get(event_id) if event_id else None
    if text is None:
        text = json.dumps(event)
        if event_id:
            _recent_texts[event_id] = text
            if len(_recent_texts) > SEEN_EVENTS:
                _recent_texts.popitem(last=False)
    return text


class RealtimeConsumer(AsyncWebsocketConsumer):
    actor: Actor | None = None
    opened = False  # accepted and counted: disconnect() has something to undo
    expiry: asyncio.TimerHandle | None = None
    renewal: asyncio.Task | None = None
    own_group: str | None = None
    key_group: str | None = None  # an API key's connections: told when the key is revoked
    session_id: str | None = None  # the login session; its revocation closes the connection

    # --- lifecycle ------------------------------------------------------------------------
    async def connect(self):
        try:
            credential = await auth.authenticate(self.scope)
        except auth.Refused as exc:
            logger.info("websocket refused: %s", exc, extra={"ip": auth.client_ip(self.scope)})
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.actor = credential.actor
        self.session_id = credential.session_id
        self.user_id = self.actor.user.pk
        self.default_workspace_id = await _default_workspace_id(self.actor)
        self.joined: dict[str, Joined] = {}  # groups this connection asked for (topics, rooms)
        # Joins being authorized: their events wait here until the snapshot has been sent.
        self.pending: dict[str, list[dict]] = {}
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.outbox: deque[str] = deque()
        self.writer: asyncio.Task | None = None
        self.hub = fanout.hub()
        self.max_message_bytes = settings.REALTIME_MAX_MESSAGE_BYTES
        self.max_queued = settings.REALTIME_MAX_QUEUED_EVENTS
        self.closing = False
        self.bucket = TokenBucket(
            rate=settings.REALTIME_RATE_PER_SECOND, capacity=settings.REALTIME_RATE_BURST
        )
        # Each refused message spends one of these (they come back at a twentieth of the
        # message rate); running out means the client keeps flooding, and it is closed.
        self.patience = TokenBucket(
            rate=settings.REALTIME_RATE_PER_SECOND / 20, capacity=settings.REALTIME_FLOOD_TOLERANCE
        )
        self.stats = process_stats()
        self.own_group = groups.user_group(self.user_id)
        await self.channel_layer.group_add(self.own_group, self.channel_name)
        if self.actor.api_key is not None:
            self.key_group = groups.api_key_group(self.actor.api_key.prefix)
            await self.channel_layer.group_add(self.key_group, self.channel_name)
        await self.accept()
        self.stats.connection_opened(self.user_id)
        self.opened = True
        self.renewal = asyncio.get_running_loop().create_task(self._renew_groups())
        if credential.expires_at is not None:
            # A connection lasts no longer than its credential: the client reconnects with a
            # new one.
            delay = max(0.0, credential.expires_at - time.time())
            self.expiry = asyncio.get_running_loop().call_later(
                delay, lambda: asyncio.ensure_future(self._credential_expired())
            )
        await self.send_event(
            "connection.ready",
            {
                "user_id": self.user_id,
                "connection_id": self._connection_label(),
                "workspace_id": self.default_workspace_id,
                "topics": topics.topic_names(),
                "limits": {
                    "max_message_bytes": self.max_message_bytes,
                    "max_broadcast_bytes": settings.REALTIME_MAX_BROADCAST_BYTES,
                    "messages_per_second": settings.REALTIME_RATE_PER_SECOND,
                    "burst": settings.REALTIME_RATE_BURST,
                    "max_subscriptions": settings.REALTIME_MAX_SUBSCRIPTIONS,
                },
            },
        )

    async def _renew_groups(self) -> None:
        # channels-redis forgets a group's members after a day; a connection may live longer
        # (an API key's), and must go on hearing of its user and key, revocations above all.
        while True:
            await asyncio.sleep(fanout.RENEW_SECONDS)
            for group in (self.own_group, self.key_group):
                if group is None:
                    continue
                try:
                    await self.channel_layer.group_add(group, self.channel_name)
                except Exception:
                    logger.warning("realtime: renewing %s failed", group, exc_info=True)

    async def _credential_expired(self) -> None:
        if self.actor.api_key is not None:
            await self._end(errors.ApiKeyExpired(), reason="api key expired")
        else:
            await self._end(errors.TokenExpired(), reason="token expired")

    async def _end(self, error: DomainError, *, reason: str) -> None:
        """The credential no longer holds: nothing more is sent but why, then the close."""
        if self.closing:
            return
        self.closing = True
        self.outbox.clear()
        await self.send_error(error)
        await self.close(code=CLOSE_UNAUTHENTICATED, reason=reason)

    def _connection_label(self) -> str:
        # The brief's clients send `connection_id`: a label for their logs, never an identity.
        query = auth._query(self.scope)
        return query.get("connection_id", "")[:64] or self.channel_name[-12:]

    async def disconnect(self, code):
        if not self.opened:
            return
        self.opened = False
        if self.expiry is not None:
            self.expiry.cancel()
        if self.renewal is not None:
            self.renewal.cancel()
        if self.writer is not None:
            self.writer.cancel()
        self.outbox.clear()
        await self.channel_layer.group_discard(self.own_group, self.channel_name)
        if self.key_group is not None:
            await self.channel_layer.group_discard(self.key_group, self.channel_name)
        for group in (*self.joined, *self.pending):
            await self.hub.discard(group, self)
        self.stats.connection_closed(self.user_id, list(self.joined))
        self.joined, self.pending = {}, {}

    # --- sending --------------------------------------------------------------------------
    async def send_json(self, event: dict) -> None:
        await self.send(text_data=json.dumps(event))
        self.stats.message_out()

    async def send_event(self, event_type: str, data: dict, ref=None) -> None:
        if ref is not None:
            data = {**data, "ref": ref}
        await self.send_json(events.make_event(event_type, data))

    async def send_error(self, error: DomainError, ref=None) -> None:
        await self.send_event("error", {"code": error.code, "message": error.message}, ref)

    async def dispatch(self, message):
        if message["type"] == events.CHANNEL_MESSAGE_TYPE:
            # Channels runs close_old_connections() in a thread before every handler; this one
            # never touches the database, so skip that hop.
            group = message.get("group")
            if group is not None and group in (self.own_group, self.key_group):
                await self._own_events(message)
            else:
                self.deliver(message)
        else:
            await super().dispatch(message)

    async def _own_events(self, message: dict) -> None:
        """The user's or the key's events (only these come here; topics and rooms come through
        the hub). Revocations are acted on in order with the rest. Channels handles one message
        at a time, so a join being authorized finishes, and is recorded, before a revocation
        sent after it is read."""
        for event in message["events"]:
            if self.closing:
                return
            kind = event.get("type")
            if kind == API_KEY_REVOKED and message["group"] == self.key_group:
                await self._end(errors.ApiKeyRevoked(), reason="api key revoked")
            elif kind == ACCESS_REVOKED and message["group"] == self.own_group:
                await self._access_revoked(event)
            elif kind == ACCOUNT_DISABLED and message["group"] == self.own_group:
                await self._end(errors.AccountDisabled(), reason="account disabled")
            elif kind == SESSION_REVOKED and message["group"] == self.own_group:
                if event["data"].get("session_id") == self.session_id:
                    await self._end(errors.SessionRevoked(), reason="session revoked")
            else:
                self._queue(event)

    async def _access_revoked(self, event: dict) -> None:
        workspace_id = event["data"]["workspace_id"]
        api_key = self.actor.api_key
        if api_key is not None:
            # A key reaches its workspace only: its owner's other workspaces are not its news.
            if api_key.workspace_id == workspace_id:  # and without its owner it is unusable
                await self._end(
                    errors.ApiKeyRevoked("The API key's owner is no longer in its workspace."),
                    reason="api key revoked",
                )
            return
        for group, joined in list(self.joined.items()):
            if joined.workspace_id == workspace_id:
                await self._leave(group)
                data = {**joined.left_data, "reason": "access_revoked"}
                self._queue(events.make_event(joined.left_type, data))
        self._queue(event)

    def deliver(self, message: dict) -> None:
        """A `realtime.event` message for this connection (from the hub: a topic's or a room's):
        queue its events to be sent as they are, each once, if the connection is (still) in
        that group."""
        if self.closing:
            return
        group = message.get("group")
        if group in self.pending:
            self.pending[group].append(message)
            return
        if group is not None and group != self.own_group and group not in self.joined:
            return  # left (or never authorized) while the message was in flight
        for event in message["events"]:
            self._queue(event)

    def _queue(self, event: dict) -> None:
        event_id = event.get("id")
        if event_id in self.seen:
            return
        self.seen[event_id] = None
        if len(self.seen) > SEEN_EVENTS:
            self.seen.popitem(last=False)
        if len(self.outbox) >= self.max_queued:
            # A client that stops reading would hold events in memory without end. Drop it; it
            # reconnects and catches up from snapshots.
            self.outbox.clear()
            if not self.closing:
                self.closing = True
                asyncio.get_running_loop().create_task(
                    self.close(code=CLOSE_TOO_SLOW, reason="not reading events")
                )
            return
        self.outbox.append(_serialized(event))
        if self.writer is None or self.writer.done():
            self.writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        # One writer per connection: a slow client holds up only itself, and keeps its order.
        while self.outbox:
            text = self.outbox.popleft()
            try:
                await self.send(text_data=text)
            except Exception:  # the client went away; disconnect() cleans up
                self.outbox.clear()
                return
            self.stats.message_out()

    # --- receiving ------------------------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None):
        self.stats.message_in()
        if not self.bucket.take():
            if not self.patience.take():
                await self.send_error(
                    errors.RateLimited("Still flooding after warnings; closing the connection.")
                )
                await self.close(code=CLOSE_FLOODING, reason="message rate exceeded")
                return
            retry = self.bucket.seconds_until_token()
            await self.send_error(errors.RateLimited(f"Too many messages; retry in {retry:.2f}s."))
            return
        ref = None
        try:
            content = self._parse(text_data, bytes_data)
            ref = content.get("ref")
            await self.dispatch_message(content)
        except DomainError as exc:
            await self.send_error(exc, ref)

    def _parse(self, text_data, bytes_data) -> dict:
        if text_data is None:
            raise errors.InvalidMessage("Send JSON text frames, not binary ones.")
        size = len(text_data.encode())
        if size > self.max_message_bytes:
            raise errors.MessageTooLarge(
                f"The message has {size} bytes; the limit is {self.max_message_bytes}."
            )
        try:
            content = json.loads(text_data)
        except ValueError:
            raise errors.MalformedJson() from None
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            raise errors.InvalidMessage('A message is a JSON object with a string "type".')
        return content

    async def dispatch_message(self, content: dict) -> None:
        kind = content["type"]
        ref = content.get("ref")
        if kind == "ping":
            await self.send_event("pong", {}, ref)
        elif kind == "join_room":
            await self.join_room(content, ref)
        elif kind == "leave_room":
            await self.leave_room(content, ref)
        elif kind == "broadcast":
            await self.broadcast(content, ref)
        elif kind.startswith(("join_", "leave_")) and (
            topic := topics.get_topic(kind.partition("_")[2])
        ):
            if kind.startswith("join_"):
                await self.join_topic(topic, content, ref)
            else:
                await self.leave_topic(topic, content, ref)
        else:
            raise errors.UnknownType(f"Unknown message type {kind[:64]!r}.")

    # --- topics ---------------------------------------------------------------------------
    @staticmethod
    def _object_id(content: dict, field: str) -> int:
        value = content.get(field)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise errors.InvalidMessage(f'"{field}" must be a positive integer.')
        return value

    def _check_capacity(self, group: str) -> None:
        if group not in self.joined and len(self.joined) >= settings.REALTIME_MAX_SUBSCRIPTIONS:
            raise errors.TooManySubscriptions(
                f"A connection may join {settings.REALTIME_MAX_SUBSCRIPTIONS} topics and rooms."
            )

    async def join_topic(self, topic: topics.Topic, content: dict, ref) -> None:
        object_id = self._object_id(content, topic.id_field)
        group = topic.group(object_id)
        self._check_capacity(group)
        # Subscribe first, then read the snapshot: an event sent in between is held and sent
        # after the snapshot rather than lost; if the join is refused it is dropped.
        rejoin = group in self.joined
        if not rejoin:
            self.pending[group] = []
            await self.hub.add(group, self)
        try:
            snapshot, workspace_id = await _snapshot(topic, self.actor, object_id)
        except Exception as exc:
            if not rejoin:
                del self.pending[group]
                await self.hub.discard(group, self)
            if isinstance(exc, DomainError):
                raise
            logger.exception("snapshot for %s %s failed", topic.name, object_id)
            raise DomainError(
                "The server could not load it; try again.", code="server_error"
            ) from exc
        await self.send_event(f"{topic.name}.snapshot", snapshot, ref)
        if not rejoin:
            held = self.pending.pop(group)
            self.joined[group] = Joined(
                workspace_id, f"{topic.name}.left", {topic.id_field: object_id}
            )
            self.stats.joined(group)
            for message in held:
                self.deliver(message)

    async def leave_topic(self, topic: topics.Topic, content: dict, ref) -> None:
        object_id = self._object_id(content, topic.id_field)
        await self._leave(topic.group(object_id))
        await self.send_event(f"{topic.name}.left", {topic.id_field: object_id}, ref)

    async def _leave(self, group: str) -> None:
        if self.joined.pop(group, None) is not None:
            await self.hub.discard(group, self)
            self.stats.left(group)

    # --- rooms ----------------------------------------------------------------------------
    async def _room(self, content: dict) -> tuple[int, str]:
        room = content.get("room")
        if not isinstance(room, str) or not ROOM_RE.match(room):
            raise errors.InvalidMessage(
                '"room" must be 1-64 letters, digits, hyphens or underscores.'
            )
        workspace_id = content.get("workspace_id", self.default_workspace_id)
        if workspace_id is None:
            raise NotFound("You are not a member of any workspace.")
        workspace_id = self._object_id({"workspace_id": workspace_id}, "workspace_id")
        return workspace_id, room

    async def join_room(self, content: dict, ref) -> None:
        workspace_id, room = await self._room(content)
        group = groups.room_group(workspace_id, room)
        self._check_capacity(group)
        await _require_member(self.actor, workspace_id)
        if group not in self.joined:
            await self.hub.add(group, self)
            self.joined[group] = Joined(
                workspace_id, "room.left", {"room": room, "workspace_id": workspace_id}
            )
            self.stats.joined(group)
        await self.send_event("room.joined", {"room": room, "workspace_id": workspace_id}, ref)

    async def leave_room(self, content: dict, ref) -> None:
        workspace_id, room = await self._room(content)
        await self._leave(groups.room_group(workspace_id, room))
        await self.send_event("room.left", {"room": room, "workspace_id": workspace_id}, ref)

    async def broadcast(self, content: dict, ref) -> None:
        workspace_id, room = await self._room(content)
        group = groups.room_group(workspace_id, room)
        if group not in self.joined:
            raise errors.NotInRoom(f"Join room {room!r} before broadcasting to it.")
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
                "sender": {"user_id": self.user_id, "username": self.actor.user.username},
                "data": content["data"],
            },
            groups=[group],
        )
