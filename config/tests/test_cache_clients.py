"""The Redis cache's clients are shared by the whole process.

Django makes a cache instance per thread, and under ASGI each request runs in a thread of its
own: with pools kept on the instance, every request opened new Redis connections."""

import threading

from django.conf import settings
from django.core.cache import caches

from config.cache import RedisCache


def _instance(alias: str = "default") -> RedisCache:
    """A new instance of the alias's backend, as Django makes one for a new thread."""
    params = dict(settings.CACHES[alias])
    return type(caches[alias])(params.pop("LOCATION"), params)


def test_instances_made_in_other_threads_share_one_client_and_its_connections():
    seen = []

    def request():  # what a request in a thread of its own does
        cache = _instance()
        cache.set("cache-clients-probe", 1, 30)
        assert cache.get("cache-clients-probe") == 1
        seen.append(cache._cache.get_client())

    for _ in range(3):
        thread = threading.Thread(target=request)
        thread.start()
        thread.join()

    assert seen[0] is seen[1] is seen[2]
    pool = seen[0].connection_pool
    # One connection did all the work, taken from the pool and given back each time.
    assert len(pool._available_connections) + len(pool._in_use_connections) == 1


def test_a_cache_with_other_options_has_a_client_of_its_own():
    default, other = _instance("default"), _instance("ratelimit")
    other_options = dict(settings.CACHES["ratelimit"].get("OPTIONS", {}))
    same_options = other_options == dict(settings.CACHES["default"].get("OPTIONS", {}))
    assert (default._cache.get_client() is other._cache.get_client()) == same_options
