"""A worker survives a Redis restart (kombu 5.7's Redis transport).

Once the broker connection is lost, Celery closes it and reconnects. Work still going through
the old connection's channels (restoring unacknowledged messages on close, acknowledging a task
that finished meanwhile) reaches `Channel._connparams` after the transport let go of its
client, and fails with AttributeError ('NoneType' object has no attribute 'hostname'). Celery
only expects connection errors there and stopped the worker ("Unrecoverable error"), seen in
the chaos test after a Redis restart. Here that case raises the connection error it is: Celery
ignores it on close and logs it on ack, and the message is redelivered after the visibility
timeout, which the engine's claims make harmless. Remove when kombu handles it itself.
"""

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

_connparams = kombu_redis.Channel._connparams


def _connparams_of_a_live_connection(self, asynchronous=False):
    if self.connection is None or self.connection.client is None:
        raise RedisConnectionError("the broker connection of this channel is closed")
    return _connparams(self, asynchronous=asynchronous)


def install() -> None:
    kombu_redis.Channel._connparams = _connparams_of_a_live_connection
