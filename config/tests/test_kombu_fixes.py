"""After a Redis restart, a channel of the lost connection raises a connection error (which
Celery handles) instead of the AttributeError that stopped the worker."""

import pytest
from kombu import Connection
from redis.exceptions import ConnectionError as RedisConnectionError

import config.celery_app  # noqa: F401 - installs the fix, as the worker does


def test_a_channel_of_a_closed_connection_raises_a_connection_error():
    connection = Connection("redis://127.0.0.1:6379/15")
    channel = connection.default_channel
    assert channel._connparams()["host"] == "127.0.0.1"  # alive: kombu's own answer
    connection.transport.client = None  # what closing the lost connection leaves behind
    with pytest.raises(RedisConnectionError):
        channel._connparams()
    assert RedisConnectionError in connection.transport.connection_errors
