"""Connection statistics that are true across processes.

Each web process counts its own connections, users, subscriptions and messages in memory (they
are its own: nobody else can change them) and writes the whole picture to Redis on a heartbeat,
and soon after every connect/disconnect/join/leave. Its keys expire after
`REALTIME_STATS_TTL_SECONDS`, so a process that dies stops being counted: no ghosts. Any process
(the `/api/v3/ws/stats` view) reads every living process's keys and adds them up.

Redis layout (prefix `REALTIME_STATS_PREFIX`):
  <p>:procs                ZSET process id -> time of its last write
  <p>:proc:<id>            HASH host, pid, started_at, heartbeat_at, connections, messages_in/out
  <p>:proc:<id>:users      HASH user id -> connections
  <p>:proc:<id>:groups     HASH subscribed group (topic or room) -> member connections
"""

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import Counter

import redis
import redis.asyncio as aioredis
from django.conf import settings

from config import redisconn

logger = logging.getLogger(__name__)

# Several changes in quick succession (a burst of connects) are written once.
WRITE_BATCH_SECONDS = 0.1


def _prefix() -> str:
    return settings.REALTIME_STATS_PREFIX


def _key(*parts: str) -> str:
    return ":".join((_prefix(), *parts))


class ProcessStats:
    """This process's counters and the task that publishes them to Redis."""

    def __init__(self):
        self.process_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.pid = os.getpid()
        self.started_at = time.time()
        self.connections = 0
        self.users: Counter[int] = Counter()
        self.groups: Counter[str] = Counter()
        self.messages_in = 0
        self.messages_out = 0
        self._task: asyncio.Task | None = None
        self._dirty: asyncio.Event | None = None

    # --- counting (called by consumers, in the event loop) ----------------------------------
    def connection_opened(self, user_id: int) -> None:
        self.connections += 1
        self.users[user_id] += 1
        self._changed()

    def connection_closed(self, user_id: int, groups: list[str]) -> None:
        self.connections -= 1
        self.users[user_id] -= 1
        if self.users[user_id] <= 0:
            del self.users[user_id]
        for group in groups:
            self.left(group, notify=False)
        self._changed()

    def joined(self, group: str) -> None:
        self.groups[group] += 1
        self._changed()

    def left(self, group: str, *, notify: bool = True) -> None:
        self.groups[group] -= 1
        if self.groups[group] <= 0:
            del self.groups[group]
        if notify:
            self._changed()

    def message_in(self) -> None:
        self.messages_in += 1  # written with the next heartbeat

    def message_out(self, count: int = 1) -> None:
        self.messages_out += count

    # --- publishing to Redis --------------------------------------------------------------
    def _changed(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            # First change, or the first since this process went idle, or a new event loop
            # (tests run one per test): start a heartbeat on this loop.
            self._dirty = asyncio.Event()
            self._task = loop.create_task(self._heartbeat(), name="realtime-stats-heartbeat")
        self._dirty.set()

    async def _heartbeat(self) -> None:
        """Write soon after each change and at least every heartbeat while connections are
        open; after the last one closes, write once more and stop (the keys then expire)."""
        dirty = self._dirty
        client = redisconn.async_client()
        try:
            while True:
                try:
                    await asyncio.wait_for(
                        dirty.wait(), timeout=settings.REALTIME_STATS_HEARTBEAT_SECONDS
                    )
                    await asyncio.sleep(WRITE_BATCH_SECONDS)
                except TimeoutError:
                    pass
                dirty.clear()
                await self.flush(client)
                if self.connections <= 0 and not dirty.is_set():
                    self._task = None  # the next change starts a new heartbeat
                    return
        finally:
            await client.aclose()

    async def connections_of(self, user_id: int) -> int:
        """The user's open connections in every living web process: this one's from memory
        (exact, at once), the others' from their last write to Redis. Raises RedisError when
        Redis does not answer."""
        ttl = settings.REALTIME_STATS_TTL_SECONDS
        client = redisconn.async_client()
        try:
            ids = await client.zrangebyscore(_key("procs"), time.time() - ttl, "+inf")
            others = [raw.decode() for raw in ids if raw.decode() != self.process_id]
            counts = []
            if others:
                async with client.pipeline(transaction=False) as pipe:
                    for pid in others:
                        pipe.hget(_key("proc", pid, "users"), str(user_id))
                    counts = await pipe.execute()
        finally:
            await client.aclose()
        return self.users[user_id] + sum(int(count) for count in counts if count)

    def snapshot(self) -> dict:
        return {
            "host": socket.gethostname(),
            "pid": self.pid,
            "started_at": self.started_at,
            "heartbeat_at": time.time(),
            "connections": self.connections,
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
        }

    async def flush(self, client: aioredis.Redis) -> None:
        """Write this process's picture now. Redis being down is logged, never raised."""
        ttl = settings.REALTIME_STATS_TTL_SECONDS
        main, users, groups = (
            _key("proc", self.process_id),
            _key("proc", self.process_id, "users"),
            _key("proc", self.process_id, "groups"),
        )
        try:
            async with client.pipeline(transaction=True) as pipe:
                pipe.delete(users, groups)
                pipe.hset(main, mapping=self.snapshot())
                if self.users:
                    pipe.hset(users, mapping={str(k): v for k, v in self.users.items()})
                if self.groups:
                    pipe.hset(groups, mapping=dict(self.groups))
                for key in (main, users, groups):
                    pipe.expire(key, ttl)
                pipe.zadd(_key("procs"), {self.process_id: time.time()})
                await pipe.execute()
        except (redis.RedisError, OSError):
            logger.warning("realtime stats: could not write to Redis", exc_info=True)


_current: ProcessStats | None = None


def process_stats() -> ProcessStats:
    """This process's counters (a forked child gets its own)."""
    global _current
    if _current is None or _current.pid != os.getpid():
        _current = ProcessStats()
    return _current


# --- reading (sync: the stats view) ---------------------------------------------------------
def _decode(mapping: dict) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in mapping.items()}


def read_stats(*, show_group=lambda name: True) -> dict:
    """The sum over every living web process. `show_group(name)` decides which subscribed
    groups are listed by name (the counts always include all of them)."""
    ttl = settings.REALTIME_STATS_TTL_SECONDS
    client = redisconn.client()
    try:
        now = time.time()
        client.zremrangebyscore(_key("procs"), "-inf", now - ttl)
        ids = [raw.decode() for raw in client.zrange(_key("procs"), 0, -1)]
        pipe = client.pipeline(transaction=False)
        for pid in ids:
            pipe.hgetall(_key("proc", pid))
            pipe.hgetall(_key("proc", pid, "users"))
            pipe.hgetall(_key("proc", pid, "groups"))
        replies = pipe.execute()
    finally:
        client.close()

    processes, all_users, all_groups = [], Counter(), Counter()
    totals = {"connections": 0, "messages_in": 0, "messages_out": 0}
    for index, pid in enumerate(ids):
        main, users, groups = (_decode(r) for r in replies[index * 3 : index * 3 + 3])
        if not main:  # expired between the two reads
            continue
        users = {int(k): int(v) for k, v in users.items()}
        groups = {k: int(v) for k, v in groups.items()}
        all_users.update(users)
        all_groups.update(groups)
        process = {
            "id": pid,
            "host": main["host"],
            "pid": int(main["pid"]),
            "started_at": float(main["started_at"]),
            "heartbeat_at": float(main["heartbeat_at"]),
            "connections": int(main["connections"]),
            "users": len(users),
            "rooms": len(groups),
            "room_members": sum(groups.values()),
            "messages_in": int(main["messages_in"]),
            "messages_out": int(main["messages_out"]),
        }
        for field in totals:
            totals[field] += process[field]
        processes.append(process)
    return {
        "total": {
            "processes": len(processes),
            **totals,
            "users": len(all_users),
            "rooms": len(all_groups),
            "room_members": sum(all_groups.values()),
        },
        "processes": processes,
        "rooms": [
            {"name": name, "members": members}
            for name, members in sorted(all_groups.items())
            if show_group(name)
        ],
    }
