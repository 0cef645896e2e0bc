"""Our Redis clients give up on a Redis that accepts connections and never answers (a hung
server, a network that drops replies) at their own time-out; the API says 503."""

import pytest
import redis

from config import redisconn
from config.testing import assert_error, silent_listener


@pytest.fixture
def silent_redis():
    with silent_listener() as url:
        yield url


def test_a_client_gives_up_on_a_silent_redis_at_its_timeout(silent_redis):
    client = redisconn.client(silent_redis, timeout=0.5)
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 0.5
    with pytest.raises(redis.TimeoutError):
        client.ping()


def test_an_async_client_gives_up_on_a_silent_redis_at_its_timeout(silent_redis):
    import asyncio

    async def ping():
        client = redisconn.async_client(silent_redis, timeout=0.5)
        assert client.connection_pool.connection_kwargs["socket_timeout"] == 0.5
        try:
            await client.ping()
        finally:
            await client.aclose()

    with pytest.raises(redis.TimeoutError):
        asyncio.run(ping())


@pytest.mark.django_db
def test_ws_stats_on_a_silent_redis_is_a_503(alice_api, settings, silent_redis):
    settings.REDIS_URL = silent_redis
    response = alice_api.get("/api/v3/ws/stats")
    error = assert_error(response, 503, "service_unavailable")
    assert error["details"] == {"dependency": "redis"}
