"""How the publisher's thread sends a batch to the configured channel layer.

- The pub/sub layer (production's): a synchronous redis-py pipeline, one PUBLISH per group,
  one round trip per shard. It is the same message on the same Redis channel as the layer's
  own `group_send` (`{prefix}__group__{group}`, on the shard `_consistent_hash` picks,
  serialized by the layer), so every subscribed web process reads it as before; the tests
  in realtime/tests/test_sinks.py subscribe through channels_redis itself to hold us to that.
  It replaces an asyncio loop and redis-py's asyncio client in the publisher's thread, which
  cost that thread two to three times the CPU in a worker child (bench/tasks.py: 0.40-0.46 s
  against 0.13-0.21 s a child for 2,000 tasks, per-thread CPU time).
- Any other layer: its own async `group_send`, on an event loop that this sink owns.
"""

import asyncio
from typing import Any

import redis
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import _consistent_hash, decode_hosts

from config.redisconn import TIMEOUT_SECONDS

CHANNEL_MESSAGE_TYPE = "realtime.event"

# One handover: events, each with the groups it goes to, sent in this order.
Batch = list[tuple[dict[str, Any], list[str]]]


def per_group(batch: Batch) -> dict[str, list[dict[str, Any]]]:
    """A group's events of the batch, in their order: one message per group, not per event."""
    out: dict[str, list[dict[str, Any]]] = {}
    for event, groups in batch:
        for group in dict.fromkeys(groups):
            out.setdefault(group, []).append(event)
    return out


def message(group: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": CHANNEL_MESSAGE_TYPE, "events": events, "group": group}


async def send_batch(layer, batch: Batch) -> None:
    """Through the layer's own API (async code, and layers without a sync sink)."""
    for group, events in per_group(batch).items():
        await layer.group_send(group, message(group, events))


class PubSubSink:
    """channels_redis' pub/sub layer, published to with redis-py's synchronous client."""

    def __init__(self, layer: RedisPubSubChannelLayer, config: dict) -> None:
        """`config`: the CONFIG the layer was made from (channels passes it as its kwargs)."""
        self._serialize = layer.serialize
        self._prefix = config.get("prefix", "asgi")
        # Our own clients, publishing only: a Redis that stops answering is an error after
        # TIMEOUT_SECONDS, not after the subscribers' long read time-out.
        self._shards = [_client(host) for host in decode_hosts(config.get("hosts"))]

    @staticmethod
    def supports(layer, config: dict) -> bool:
        """Whether this sink can stand in for the layer (Sentinel hosts: not yet)."""
        return isinstance(layer, RedisPubSubChannelLayer) and all(
            "master_name" not in host for host in decode_hosts(config.get("hosts"))
        )

    def send(self, batch: Batch) -> None:
        pipes: dict[int, Any] = {}
        for group, events in per_group(batch).items():
            channel = f"{self._prefix}__group__{group}"
            shard = _consistent_hash(channel, len(self._shards))
            if shard not in pipes:
                pipes[shard] = self._shards[shard].pipeline(transaction=False)
            pipes[shard].publish(channel, self._serialize(message(group, events)))
        for pipe in pipes.values():
            pipe.execute()


def _client(host: dict) -> redis.Redis:
    options = {**host, "socket_timeout": TIMEOUT_SECONDS, "socket_connect_timeout": TIMEOUT_SECONDS}
    if address := options.pop("address", None):
        return redis.Redis.from_url(address, **options)
    return redis.Redis(**options)


class AsyncSink:
    """Any other layer through its async API, on this sink's own event loop (the layer's
    connections belong to the loop they were made on: this one, kept for the sink's life)."""

    def __init__(self, layer) -> None:
        self._layer = layer
        self._loop = asyncio.new_event_loop()

    def send(self, batch: Batch) -> None:
        self._loop.run_until_complete(send_batch(self._layer, batch))

    def close(self) -> None:
        self._loop.close()
