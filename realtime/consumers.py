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
with its credential: a JWT's or API key's expiry, or the key's revocation.

No message drops a connection: bad messages, forbidden joins, limits and server-side failures
get an `error` event and the connection stays open; only a client that keeps exceeding the
message rate is closed (4429). However a connection ends (close, client gone, crash, server
shutdown), its statistics, groups, topics and rooms are cleaned up once (`_cleanup`).

The consumer is the lifecycle and the routing; the parts live beside it: credentials
(`auth`), what a client may ask (`commands`), database reads (`access`), limits (`limits`),
message parsing (`messages`), the send queue (`send_queue`, `serialization`), topics and
rooms (`subscriptions`, `rooms`) and the events that end a connection (`revocation`).
"""

import asyncio
import json
import logging
import time

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import Error as DatabaseError
from redis.exceptions import RedisError

from config.errors import DomainError
from realtime import access, auth, commands, errors, events, fanout, groups, messages, topics
from realtime.limits import MessageRate, client_limits
from realtime.revocation import ACCESS_REVOKED, SESSION_REVOKED, ending_error
from realtime.send_queue import SendQueue
from realtime.stats import process_stats
from realtime.subscriptions import Subscriptions

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FLOODING = 4429  # also: the user has as many connections as they may
CLOSE_TOO_SLOW = 4408  # the client does not read its events fast enough
CLOSE_TRY_AGAIN_LATER = 1013  # a dependency (Redis, the database) is not answering
# Failures of what the server depends on: an `error` event `service_unavailable`, not a crash.
UNAVAILABLE = (RedisError, OSError, DatabaseError)


class RealtimeConsumer(AsyncWebsocketConsumer):
    actor = None
    opened = False  # counted in the statistics: _cleanup has something to undo
    closing = False
    queue: SendQueue | None = None
    subscriptions: Subscriptions | None = None
    expiry: asyncio.TimerHandle | None = None
    renewal: asyncio.Task | None = None
    own_group: str | None = None
    key_group: str | None = None  # an API key's connections: told when the key is revoked
    session_id: str | None = None  # the login session; its revocation closes the connection

    # --- lifecycle ------------------------------------------------------------------------
    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:  # however the connection ends, including a crash or a cancelled task
            await self._cleanup()

    async def connect(self):
        try:
            credential = await auth.authenticate(self.scope)
        except auth.Refused as exc:
            logger.info("websocket refused: %s", exc, extra={"ip": auth.client_ip(self.scope)})
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        except UNAVAILABLE:
            logger.warning("websocket handshake: a dependency is down", exc_info=True)
            return await self._refuse(errors.ServiceUnavailable(), CLOSE_TRY_AGAIN_LATER)
        self.actor = credential.actor
        self.session_id = credential.session_id
        self.user_id = self.actor.user.pk
        self.stats = process_stats()
        self.stats.connection_opened(self.user_id)  # counted at once: a burst sees itself
        self.opened = True
        self.queue = SendQueue(
            write=self._write_text,
            max_queued=settings.REALTIME_MAX_QUEUED_EVENTS,
            on_overflow=self._too_slow,
            on_written=self.stats.message_out,
        )
        self.rate = MessageRate(
            rate=settings.REALTIME_RATE_PER_SECOND,
            burst=settings.REALTIME_RATE_BURST,
            tolerance=settings.REALTIME_FLOOD_TOLERANCE,
        )
        try:
            if await self.stats.connections_of(self.user_id) > settings.REALTIME_MAX_CONNECTIONS:
                return await self._refuse(
                    errors.TooManyConnections(
                        f"A user may keep {settings.REALTIME_MAX_CONNECTIONS} connections open."
                    ),
                    CLOSE_FLOODING,
                )
            self.default_workspace_id = await access.default_workspace_id(self.actor)
            self.subscriptions = Subscriptions(
                member=self,
                hub=fanout.hub(),
                stats=self.stats,
                max_subscriptions=settings.REALTIME_MAX_SUBSCRIPTIONS,
            )
            self.own_group = groups.user_group(self.user_id)
            await self.channel_layer.group_add(self.own_group, self.channel_name)
            if self.actor.api_key is not None:
                self.key_group = groups.api_key_group(self.actor.api_key.prefix)
                await self.channel_layer.group_add(self.key_group, self.channel_name)
        except UNAVAILABLE:
            logger.warning("websocket handshake: a dependency is down", exc_info=True)
            return await self._refuse(errors.ServiceUnavailable(), CLOSE_TRY_AGAIN_LATER)
        await self.accept()
        loop = asyncio.get_running_loop()
        self.renewal = loop.create_task(self._renew_groups())
        if credential.expires_at is not None:
            # A connection lasts no longer than its credential: the client reconnects with a
            # new one.
            delay = max(0.0, credential.expires_at - time.time())
            self.expiry = loop.call_later(
                delay, lambda: asyncio.ensure_future(self._credential_expired())
            )
        await self.send_event("connection.ready", self._ready_data())

    async def _refuse(self, error: DomainError, code: int) -> None:
        """Accept only to say why, then close: a browser shows no reason for a refused
        handshake."""
        self.closing = True
        await self.accept()
        await self.send_error(error)
        await self.close(code=code)

    def _ready_data(self) -> dict:
        return {
            "user_id": self.user_id,
            "connection_id": auth.connection_label(self.scope, self.channel_name),
            "workspace_id": self.default_workspace_id,
            "topics": topics.topic_names(),
            "limits": client_limits(),
        }

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
        self.queue.close()
        await self.send_error(error)
        await self.close(code=CLOSE_UNAUTHENTICATED, reason=reason)

    def _too_slow(self) -> None:
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().create_task(
                self.close(code=CLOSE_TOO_SLOW, reason="not reading events")
            )

    async def disconnect(self, code):
        await self._cleanup()

    async def _cleanup(self) -> None:
        """Undo everything the connection did, once. Each step is on its own: a dependency
        that is down must not leave the rest (the statistics above all) undone."""
        if not self.opened:
            return
        self.opened = False
        self.closing = True
        for handle in (self.expiry, self.renewal):
            if handle is not None:
                handle.cancel()
        if self.queue is not None:
            self.queue.close()
        joined = list(self.subscriptions.joined) if self.subscriptions is not None else []
        self.stats.connection_closed(self.user_id, joined)
        for group in (self.own_group, self.key_group):
            if group is not None:
                await self._quietly(self.channel_layer.group_discard(group, self.channel_name))
        if self.subscriptions is not None:
            for group in self.subscriptions.forget():
                await self._quietly(self.subscriptions.hub.discard(group, self))

    @staticmethod
    async def _quietly(step) -> None:
        try:
            await step
        except Exception:
            logger.warning("realtime: cleanup step failed", exc_info=True)

    # --- sending --------------------------------------------------------------------------
    def _write_text(self, text: str):
        # The ASGI send itself, without AsyncWebsocketConsumer.send's two coroutine layers:
        # this runs once per connection per event.
        return self.base_send({"type": "websocket.send", "text": text})

    async def send_json(self, event: dict) -> None:
        await self.send(text_data=json.dumps(event))
        self.stats.message_out()

    async def send_event(self, event_type: str, data: dict, ref=None) -> None:
        if ref is not None:
            data = {**data, "ref": ref}
        await self.send_json(events.make_event(event_type, data))

    async def send_error(self, error: DomainError, ref=None) -> None:
        await self.send_event("error", {"code": error.code, "message": error.message}, ref)

    # --- events from the channel layer ------------------------------------------------------
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
            error = ending_error(
                kind, message["group"], own_group=self.own_group, key_group=self.key_group
            )
            if error is not None:
                await self._end(error, reason=error.code.replace("_", " "))
            elif kind == ACCESS_REVOKED and message["group"] == self.own_group:
                await self._access_revoked(event)
            elif kind == SESSION_REVOKED and message["group"] == self.own_group:
                if event["data"].get("session_id") == self.session_id:
                    await self._end(errors.SessionRevoked(), reason="session revoked")
            else:
                self.queue.put(event)

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
        for joined in await self.subscriptions.leave_workspace(workspace_id):
            data = {**joined.left_data, "reason": "access_revoked"}
            self.queue.put(events.make_event(joined.left_type, data))
        self.queue.put(event)

    def deliver(self, message: dict) -> None:
        """A `realtime.event` message for this connection (from the hub: a topic's or a room's):
        its events are queued to be sent, each once, if the connection is (still) in that
        group."""
        if self.closing or self.subscriptions is None:
            return
        if self.subscriptions.admits(message):
            for event in message["events"]:
                self.queue.put(event)

    # --- client messages ------------------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None):
        if self.closing:
            return
        self.stats.message_in()
        verdict, retry = self.rate.check()
        if verdict == "close":
            await self.send_error(
                errors.RateLimited("Still flooding after warnings; closing the connection.")
            )
            await self.close(code=CLOSE_FLOODING, reason="message rate exceeded")
            return
        if verdict == "slow_down":
            await self.send_error(errors.RateLimited(f"Too many messages; retry in {retry:.2f}s."))
            return
        content = None
        try:
            content = messages.parse(
                text_data, bytes_data, max_bytes=settings.REALTIME_MAX_MESSAGE_BYTES
            )
            await commands.handle(self, content)
        except DomainError as exc:
            await self.send_error(exc, messages.ref_of(content))
        except UNAVAILABLE:
            logger.warning("realtime: a dependency is down", exc_info=True)
            await self.send_error(errors.ServiceUnavailable(), messages.ref_of(content))
        except Exception:  # a bug must not drop the connection either
            logger.exception("realtime: handling a message failed")
            error = DomainError("The server could not handle it; try again.", code="server_error")
            await self.send_error(error, messages.ref_of(content))
