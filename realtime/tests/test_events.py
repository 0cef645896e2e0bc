import asyncio
import copy
import logging
import os
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, get_channel_layer

from config.testing import free_port
from realtime import events, groups


def receive_from(group: str):
    """Subscribe a fresh channel to `group`; return a function that reads one message."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return lambda: async_to_sync(layer.receive)(channel)


def test_publish_reaches_every_group_in_the_event_shape():
    read_run = receive_from(groups.run_group(7))
    read_user = receive_from(groups.user_group(3))
    sent = events.publish(
        "step.succeeded",
        {"run_id": 7, "step": "outline"},
        groups=[
            groups.run_group(7),
            groups.user_group(3),
        ],
    )
    for read in (read_run, read_user):
        message = read()
        assert message["type"] == events.CHANNEL_MESSAGE_TYPE
        (event,) = message["events"]
        assert event == sent
        assert set(event) == {"type", "id", "ts", "data"}
        assert event["type"] == "step.succeeded" and event["data"]["step"] == "outline"


@pytest.mark.django_db
def test_publish_on_commit_waits_for_the_commit(django_capture_on_commit_callbacks):
    read = receive_from(groups.workflow_group(1))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        events.publish_on_commit("run.queued", {"run_id": 1}, groups=[groups.workflow_group(1)])
    assert len(callbacks) == 1  # nothing sent until the commit
    callbacks[0]()
    assert [event["type"] for event in read()["events"]] == ["run.queued"]


def test_data_is_made_json_safe():
    import datetime
    import decimal

    event = events.make_event(
        "x", {"at": datetime.date(2026, 1, 2), "cost": decimal.Decimal("1.5")}
    )
    assert event["data"] == {"at": "2026-01-02", "cost": "1.5"}


def test_event_data_reads_as_django_writes_it():
    import datetime
    import decimal

    at = datetime.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.UTC)
    uid = uuid.UUID("12345678-1234-5678-1234-567812345678")
    data = {"at": at, "id": uid, 7: "seven", "nested": [{"cost": decimal.Decimal("0.10")}]}
    assert events.make_event("x", data)["data"] == {
        "at": "2026-01-02T03:04:05.123Z",
        "id": "12345678-1234-5678-1234-567812345678",
        "7": "seven",
        "nested": [{"cost": "0.10"}],
    }
    with pytest.raises(TypeError):
        events.make_event("x", {"what": object()})
    # Beyond orjson's 64 bits (a client's room message may carry anything JSON allows).
    assert events.make_event("x", {"n": 10**30})["data"] == {"n": 10**30}


def test_event_ids_differ_in_a_forked_child():
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first id, then leave at once
        os.write(write_end, events.make_event("x", {})["id"].encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    child_id = os.read(read_end, 64).decode()
    os.close(read_end)
    parent_ids = {events.make_event("x", {})["id"] for _ in range(3)}
    assert len(child_id) == 32 and int(child_id, 16) >= 0
    assert child_id not in parent_ids and len(parent_ids) == 3


# The per-process publisher (every layer but the in-memory one of unit tests).


class RecordingLayer(BaseChannelLayer):
    """A channel layer that takes a while per message and remembers what it was sent."""

    sent: list[tuple[str, str]] = []

    async def group_send(self, group, message):
        await asyncio.sleep(0.02)
        RecordingLayer.sent.append((group, [event["type"] for event in message["events"]]))


@pytest.fixture
def recording_layer(settings):
    RecordingLayer.sent = []
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.RecordingLayer"}}
    yield RecordingLayer.sent
    assert events.drain()


@pytest.fixture
def redis_layer(settings):
    settings.CHANNEL_LAYERS = settings.REDIS_CHANNEL_LAYERS


def test_publish_hands_over_and_drain_waits_for_every_event_in_order(recording_layer, settings):
    settings.REALTIME_PUBLISH_LINGER_MS = 0
    published = [events.publish(f"e.{n}", {"n": n}, groups=["g.a", "g.b"]) for n in range(5)]
    events.publish_batch([("batch.1", {}), ("batch.2", {}, ["g.c"])], groups=["g.a"])
    assert [event["type"] for event in published] == [f"e.{n}" for n in range(5)]
    assert len(recording_layer) < 12  # handed over: nobody waited for the slow layer
    assert events.drain()
    # Each group hears its events in the order published (handovers that waited together
    # may share a message).
    heard = {}
    for group, types in recording_layer:
        heard.setdefault(group, []).extend(types)
    assert heard == {
        "g.a": [*(f"e.{n}" for n in range(5)), "batch.1"],
        "g.b": [f"e.{n}" for n in range(5)],
        "g.c": ["batch.2"],
    }


def test_handovers_within_the_linger_go_out_as_one_message_per_group(recording_layer, settings):
    settings.REALTIME_PUBLISH_LINGER_MS = 300  # far longer than publishing these takes
    for n in range(5):
        events.publish(f"e.{n}", {"n": n}, groups=["g.a", "g.b"])
    events.publish_batch([("batch.1", {}), ("batch.2", {}, ["g.c"])], groups=["g.a"])
    assert events.drain()
    assert recording_layer == [
        ("g.a", [*(f"e.{n}" for n in range(5)), "batch.1"]),
        ("g.b", [f"e.{n}" for n in range(5)]),
        ("g.c", ["batch.2"]),
    ]


def test_a_batch_reaches_each_group_in_one_message_in_order(recording_layer):
    events.publish_batch(
        [("one", {}), ("two", {}, ["g.b", "g.a"]), ("three", {}), ("four", {}, ["g.c"])],
        groups=["g.a", "g.b"],
    )
    assert events.drain()
    assert recording_layer == [
        ("g.a", ["one", "two", "three"]),
        ("g.b", ["one", "two", "three"]),
        ("g.c", ["four"]),
    ]


@pytest.mark.integration
@pytest.mark.asyncio
async def test_events_of_one_process_arrive_in_order_through_redis(redis_layer):
    group = f"test.order.{uuid.uuid4().hex}"
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    try:
        sent = [events.publish("probe", {"n": n}, groups=[group]) for n in range(50)]
        sent += events.publish_batch([("batch", {"n": n}) for n in range(50)], groups=[group])
        heard = []
        while len(heard) < len(sent):  # messages of one or more handovers each
            message = await asyncio.wait_for(layer.receive(channel), 10)
            assert message["group"] == group
            heard += message["events"]
        assert heard == sent
    finally:
        await layer.group_discard(group, channel)


def test_publish_does_not_raise_when_the_channel_layer_is_down(settings, caplog):
    caplog.set_level(logging.WARNING, logger="realtime.publisher")  # whatever ran before
    RecordingLayer.sent = []
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.RecordingLayer"}}
    events.publish("before", {}, groups=["g"])  # a layer that works: failures not yet seen
    assert events.drain() and RecordingLayer.sent == [("g", ["before"])]

    down = copy.deepcopy(settings.REDIS_CHANNEL_LAYERS)
    down["default"]["CONFIG"]["hosts"] = [{"address": f"redis://127.0.0.1:{free_port()}/0"}]
    settings.CHANNEL_LAYERS = down
    sent = [events.publish("lost", {"n": n}, groups=["g"]) for n in range(3)]
    sent += events.publish_batch([("lost", {})], groups=["g"])
    assert [event["type"] for event in sent] == ["lost"] * 4
    assert events.drain(timeout=30)
    failures = [
        r for r in caplog.records if r.getMessage().startswith("realtime events not published")
    ]
    assert len(failures) == 1  # said once, not once per event


def test_a_layer_that_does_not_keep_up_loses_the_oldest_handovers_not_memory(
    recording_layer, settings, monkeypatch, caplog
):
    from realtime import publisher

    caplog.set_level(logging.WARNING, logger="realtime.publisher")
    monkeypatch.setattr(publisher, "MAX_WAITING", 5)
    settings.REALTIME_PUBLISH_LINGER_MS = 0
    for n in range(40):  # far faster than the layer's 20 ms a message
        events.publish(f"e.{n}", {}, groups=["g"])
    assert events.drain()
    heard = [t for _, types in recording_layer for t in types]
    assert len(heard) < 40 and heard[-1] == "e.39"  # the newest are kept
    assert heard == sorted(heard, key=lambda t: int(t.split(".")[1]))  # still in order
    assert any("dropped" in r.getMessage() for r in caplog.records)


@pytest.mark.integration
def test_a_forked_child_publishes_through_a_publisher_of_its_own(redis_layer):
    group = f"test.fork.{uuid.uuid4().hex}"
    events.publish("parent", {}, groups=[group])  # the parent's publisher thread is running
    assert events.drain()

    async def child_event():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        pid = os.fork()
        if pid == 0:  # the child: a fresh publisher, drained before it leaves
            events.publish("child", {"pid": os.getpid()}, groups=[group])
            os._exit(0 if events.drain() else 1)
        try:
            return pid, await asyncio.wait_for(layer.receive(channel), 10)
        finally:
            await layer.group_discard(group, channel)
            os.waitpid(pid, 0)

    pid, message = async_to_sync(child_event)()
    (event,) = message["events"]
    assert event["type"] == "child" and event["data"] == {"pid": pid}
