"""What a cache backend can tell about a namespace of keys: Redis can list (SCAN), size
(MEMORY USAGE) and delete them; local memory and file caches cannot, and say so (None)."""

from django.core.cache.backends.redis import RedisCache

SCAN_LIMIT = 100_000  # keys looked at per namespace; beyond, figures are marked partial


def _redis_client(cache):
    if isinstance(cache, RedisCache):
        return cache._cache.get_client(write=True)  # Django's own client of this alias
    return None


def namespace_figures(cache, pattern: str) -> dict:
    """{"keys", "memory_bytes", "partial"} of the keys matching `pattern` (before Django's
    prefixing), or None figures when the backend cannot tell."""
    client = _redis_client(cache)
    if client is None:
        return {"keys": None, "memory_bytes": None, "partial": False}
    keys, memory, partial = 0, 0, False
    batch = []
    for raw in client.scan_iter(match=cache.make_key(pattern), count=1000):
        keys += 1
        batch.append(raw)
        if len(batch) >= 500:
            memory += _memory(client, batch)
            batch = []
        if keys >= SCAN_LIMIT:
            partial = True
            break
    if batch:
        memory += _memory(client, batch)
    return {"keys": keys, "memory_bytes": memory, "partial": partial}


def _memory(client, keys) -> int:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key)
    return sum(n or 0 for n in pipe.execute())


def delete_matching(cache, pattern: str) -> int | None:
    client = _redis_client(cache)
    if client is None:
        return None
    deleted = 0
    batch = []
    for raw in client.scan_iter(match=cache.make_key(pattern), count=1000):
        batch.append(raw)
        if len(batch) >= 500:
            deleted += client.delete(*batch)
            batch = []
    if batch:
        deleted += client.delete(*batch)
    return deleted


def server_figures(cache) -> dict | None:
    """Redis's own keyspace hit and miss counters and memory (the whole server)."""
    client = _redis_client(cache)
    if client is None:
        return None
    stats, memory = client.info("stats"), client.info("memory")
    hits, misses = stats.get("keyspace_hits", 0), stats.get("keyspace_misses", 0)
    return {
        "keyspace_hits": hits,
        "keyspace_misses": misses,
        "hit_rate": round(hits / (hits + misses), 4) if hits + misses else None,
        "used_memory_bytes": memory.get("used_memory"),
    }
