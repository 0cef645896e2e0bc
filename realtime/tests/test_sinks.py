"""The publisher's synchronous pub/sub sink against channels_redis' own subscribers: the same
channel names, shards and serialization as the layer's `group_send`, or nobody hears."""

import asyncio
import copy
import logging
import shutil
import time
import uuid

import pytest
from channels.layers import get_channel_layer

from config.redisconn import TIMEOUT_SECONDS
from config.testing import free_port, silent_listener, start_redis_server
from realtime import events
from realtime.publisher import publisher
from realtime.sinks import AsyncSink, PubSubSink

pytestmark = pytest.mark.integration


def layers_on(settings, addresses: list[str], **config) -> None:
    layers = copy.deepcopy(settings.REDIS_CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["hosts"] = [{"address": address} for address in addresses]
    layers["default"]["CONFIG"].update(config)
    settings.CHANNEL_LAYERS = layers


async def hear(groups: list[str], sent: int) -> dict[str, list[dict]]:
    """Subscribe a channel to every group, then publish `sent` events to each (from sync
    code, through the publisher) and return what each group heard."""
    layer = get_channel_layer()
    channels = {}
    for group in groups:
        channels[group] = await layer.new_channel()
        await layer.group_add(group, channels[group])
    try:
        for n in range(sent):
            events.publish("probe", {"n": n}, groups=groups)
        heard: dict[str, list[dict]] = {group: [] for group in groups}
        for group in groups:
            while len(heard[group]) < sent:
                message = await asyncio.wait_for(layer.receive(channels[group]), 10)
                assert message["type"] == events.CHANNEL_MESSAGE_TYPE
                assert message["group"] == group
                heard[group] += message["events"]
        return heard
    finally:
        for group, channel in channels.items():
            await layer.group_discard(group, channel)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_every_group_is_heard_across_two_shards(settings, tmp_path):
    ports = [free_port(), free_port()]
    servers = [start_redis_server(port, tmp_path) for port in ports]
    try:
        layers_on(settings, [f"redis://127.0.0.1:{port}/0" for port in ports])
        groups = [f"test.shard.{n}.{uuid.uuid4().hex}" for n in range(12)]
        heard = asyncio.run(hear(groups, sent=3))
        assert isinstance(publisher._sink, PubSubSink)
        assert len(publisher._sink._shards) == 2
    finally:
        for server in servers:
            server.kill()
            server.wait(timeout=30)
    for group in groups:
        assert [event["data"]["n"] for event in heard[group]] == [0, 1, 2]


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_publishing_resumes_after_redis_restarts_empty(settings, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="realtime.publisher")
    port = free_port()
    server = start_redis_server(port, tmp_path)
    try:
        layers_on(settings, [f"redis://127.0.0.1:{port}/0"])
        group = f"test.restart.{uuid.uuid4().hex}"
        assert len(asyncio.run(hear([group], sent=1))[group]) == 1
        server.kill()
        server.wait(timeout=30)
        events.publish("lost", {}, groups=[group])  # nobody to hear it: logged, not raised
        assert events.drain(timeout=30)
        assert any("not published" in r.getMessage() for r in caplog.records)
        server = start_redis_server(port, tmp_path)
        # The sink's clients connect again by themselves: the next events are heard.
        assert [e["type"] for e in asyncio.run(hear([group], sent=2))[group]] == ["probe"] * 2
    finally:
        server.kill()
        server.wait(timeout=30)


def test_an_encrypted_layer_is_heard_too(settings):
    """The sink serializes with the layer itself (here: encrypting with its key)."""
    layers_on(settings, [settings.REDIS_URL], symmetric_encryption_keys=["a-test-key"])
    group = f"test.encrypted.{uuid.uuid4().hex}"
    heard = asyncio.run(hear([group], sent=2))
    assert [event["type"] for event in heard[group]] == ["probe", "probe"]


def test_a_silent_redis_is_given_up_at_the_clients_timeout(settings, caplog):
    caplog.set_level(logging.WARNING, logger="realtime.publisher")
    with silent_listener() as url:
        layers_on(settings, [url])
        started = time.monotonic()
        events.publish("lost", {}, groups=["g"])
        assert events.drain(timeout=30)
        waited = time.monotonic() - started
    # Not the layer's 30 s read time-out: the sink's own clients give up sooner.
    assert waited < 30 - TIMEOUT_SECONDS
    assert any("realtime events not published" in r.getMessage() for r in caplog.records)


def test_sentinel_hosts_and_other_layers_go_through_the_layers_own_api(settings):
    from channels_redis.core import RedisChannelLayer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    sentinel = {"hosts": [{"master_name": "main", "sentinels": [("127.0.0.1", 26379)]}]}
    assert not PubSubSink.supports(RedisPubSubChannelLayer(**sentinel), sentinel)
    core = {"hosts": [settings.REDIS_URL]}
    assert not PubSubSink.supports(RedisChannelLayer(**core), core)
    sink = AsyncSink(RedisChannelLayer(**core))
    sink.close()
