import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

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
        event = message["event"]
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
    assert read()["event"]["type"] == "run.queued"


def test_data_is_made_json_safe():
    import datetime
    import decimal

    event = events.make_event(
        "x", {"at": datetime.date(2026, 1, 2), "cost": decimal.Decimal("1.5")}
    )
    assert event["data"] == {"at": "2026-01-02", "cost": "1.5"}
