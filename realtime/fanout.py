"""Fan-out inside one web process: one channel-layer subscription per group, shared by every
connection of this process in that group.

With the plain Channels model each connection subscribes to each group itself, so an event for
a room of 1,000 connections is 1,000 channel-layer messages (1,000 Redis round trips with
channels-redis) and 1,000 trips through each consumer's dispatch loop. Here the process
subscribes once and hands the event to its members directly: one message per process per
event, whatever the number of connections.
"""

import asyncio
import logging
from typing import Protocol

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

# channels-redis forgets group members after a day (`group_expiry`); renew well before.
RENEW_SECONDS = 3600


class Member(Protocol):
    def deliver(self, message: dict) -> None: ...


class Hub:
    def __init__(self, layer, loop: asyncio.AbstractEventLoop):
        self.layer = layer
        self.loop = loop
        self.channel: str | None = None
        self.members: dict[str, set[Member]] = {}
        self._lock = asyncio.Lock()  # group_add/discard in the order they were asked for
        self._tasks: list[asyncio.Task] = []

    async def add(self, group: str, member: Member) -> None:
        async with self._lock:
            if self.channel is None:
                # The default prefix: channels-redis pops every "specific." channel of a
                # process from one Redis key; another prefix would wait for its turn.
                self.channel = await self.layer.new_channel()
                self._tasks = [
                    self.loop.create_task(self._receive(), name="realtime-hub-receive"),
                    self.loop.create_task(self._renew(), name="realtime-hub-renew"),
                ]
            members = self.members.setdefault(group, set())
            if not members:
                await self.layer.group_add(group, self.channel)
            members.add(member)

    async def discard(self, group: str, member: Member) -> None:
        async with self._lock:
            members = self.members.get(group)
            if not members or member not in members:
                return
            members.discard(member)
            if not members:
                del self.members[group]
                await self.layer.group_discard(group, self.channel)

    async def _receive(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("realtime hub: channel layer receive failed", exc_info=True)
                await asyncio.sleep(1)
                continue
            for member in tuple(self.members.get(message.get("group"), ())):
                member.deliver(message)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            for group in tuple(self.members):
                try:
                    await self.layer.group_add(group, self.channel)
                except Exception:
                    logger.warning("realtime hub: renewing %s failed", group, exc_info=True)


_hub: Hub | None = None


def hub() -> Hub:
    """This process's hub for the running event loop and the configured channel layer."""
    global _hub
    loop, layer = asyncio.get_running_loop(), get_channel_layer()
    if _hub is None or _hub.loop is not loop or _hub.layer is not layer:
        _hub = Hub(layer, loop)  # tests run one loop per test, and may switch layers
    return _hub
