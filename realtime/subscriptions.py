"""The topics and rooms one connection is in.

A join subscribes first (through the process's hub) and is confirmed after it is authorized;
events that arrive in between are held and handed back on confirmation, so a topic's snapshot
is sent before them and nothing is lost. Each membership remembers its workspace, so losing
access to a workspace leaves exactly what was joined there.
"""

from dataclasses import dataclass
from typing import Any

from realtime import errors


@dataclass(frozen=True)
class Joined:
    """A topic or room a connection is in: the workspace it belongs to (None: no workspace's),
    and the event its leave is answered with."""

    workspace_id: int | None
    left_type: str
    left_data: dict[str, Any]


class Subscriptions:
    def __init__(self, *, member, hub, stats, max_subscriptions: int):
        self.member = member  # what the hub delivers to (the consumer)
        self.hub = hub
        self.stats = stats
        self.max_subscriptions = max_subscriptions
        self.joined: dict[str, Joined] = {}
        self.pending: dict[str, list[dict]] = {}  # being authorized: their held messages

    def admits(self, message: dict) -> bool:
        """Whether a topic's or room's message is for this connection now; a message for a
        join being authorized is held instead (and False)."""
        group = message.get("group")
        if group in self.pending:
            self.pending[group].append(message)
            return False
        return group in self.joined

    def check_capacity(self, group: str) -> None:
        if group not in self.joined and len(self.joined) >= self.max_subscriptions:
            raise errors.TooManySubscriptions(
                f"A connection may join {self.max_subscriptions} topics and rooms."
            )

    async def begin(self, group: str) -> bool:
        """Subscribe to `group` pending authorization; True if already joined (a rejoin)."""
        self.check_capacity(group)
        if group in self.joined:
            return True
        self.pending[group] = []
        await self.hub.add(group, self.member)
        return False

    async def abandon(self, group: str) -> None:
        """The join was refused: unsubscribe, and drop what was held."""
        if self.pending.pop(group, None) is not None:
            await self.hub.discard(group, self.member)

    def confirm(self, group: str, joined: Joined) -> list[dict]:
        """The join is authorized: it counts from now; returns the messages held meanwhile."""
        held = self.pending.pop(group, [])
        self.joined[group] = joined
        self.stats.joined(group)
        return held

    async def leave(self, group: str) -> Joined | None:
        joined = self.joined.pop(group, None)
        if joined is not None:
            await self.hub.discard(group, self.member)
            self.stats.left(group)
        return joined

    async def leave_workspace(self, workspace_id: int) -> list[Joined]:
        """Leave everything joined in a workspace the user lost access to."""
        left = []
        for group, joined in list(self.joined.items()):
            if joined.workspace_id == workspace_id:
                await self.leave(group)
                left.append(joined)
        return left

    def forget(self) -> list[str]:
        """The connection ended: returns every group it was in or joining, now forgotten
        (the caller unsubscribes them; stats count the joined ones as left)."""
        groups = [*self.joined, *self.pending]
        self.joined, self.pending = {}, {}
        return groups
