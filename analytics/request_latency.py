"""Request latency over the last minutes, across every web process, for /api/v3/health.

Each process counts its requests into fixed latency buckets for the current minute and adds
its counts to Redis (one pipeline) at most every FLUSH_SECONDS, so a request pays a lock and
an increment, not a network round trip. `recent()` reads the last minutes' buckets from Redis
and gives percentiles as the upper bound of the bucket they fall in.
"""

import bisect
import logging
import threading
import time

import redis
from django.conf import settings

from config import redisconn

logger = logging.getLogger(__name__)

BOUNDS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)  # then +Inf
FLUSH_SECONDS = 5.0
KEEP_SECONDS = 15 * 60


def _key(minute: int) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', 'docchain')}:reqlat:{minute}"


def _client() -> redis.Redis:
    return redisconn.client(timeout=1)


class _Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: dict[tuple[int, int], int] = {}  # (minute, bucket) -> count
        self.flushed_at = time.monotonic()

    def add(self, duration_ms: float) -> None:
        bucket = bisect.bisect_left(BOUNDS_MS, duration_ms)
        minute = int(time.time() // 60)
        with self.lock:
            self.pending[(minute, bucket)] = self.pending.get((minute, bucket), 0) + 1
            due = time.monotonic() - self.flushed_at >= FLUSH_SECONDS
            if not due:
                return
            pending, self.pending = self.pending, {}
            self.flushed_at = time.monotonic()
        self._write(pending)

    def _write(self, pending: dict) -> None:
        try:
            client = _client()
            try:
                pipe = client.pipeline(transaction=False)
                for (minute, bucket), n in pending.items():
                    pipe.hincrby(_key(minute), str(bucket), n)
                    pipe.expire(_key(minute), KEEP_SECONDS)
                pipe.execute()
            finally:
                client.close()
        except Exception as exc:  # Redis down: the figures are lost, the request is not
            logger.debug("request latency not recorded: %s", exc)

    def flush(self) -> None:
        with self.lock:
            pending, self.pending = self.pending, {}
            self.flushed_at = time.monotonic()
        if pending:
            self._write(pending)


counts = _Counts()


class RequestLatencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        counts.add((time.perf_counter() - started) * 1000)
        return response


def recent(minutes: int = 5) -> dict:
    """Requests and latency percentiles (bucket upper bounds, ms) over the last minutes."""
    counts.flush()  # this process's own latest requests too
    now_minute = int(time.time() // 60)
    client = _client()
    try:
        pipe = client.pipeline(transaction=False)
        for minute in range(now_minute - minutes + 1, now_minute + 1):
            pipe.hgetall(_key(minute))
        replies = pipe.execute()
    finally:
        client.close()
    per_bucket = [0] * (len(BOUNDS_MS) + 1)
    for reply in replies:
        for bucket, n in reply.items():
            per_bucket[int(bucket)] += int(n)
    total = sum(per_bucket)

    def upper_bound(fraction: float):
        if not total:
            return None
        seen = 0
        for bucket, n in enumerate(per_bucket):
            seen += n
            if seen >= fraction * total:
                return BOUNDS_MS[bucket] if bucket < len(BOUNDS_MS) else None
        return None

    return {
        "window_minutes": minutes,
        "requests": total,
        "p50_ms_at_most": upper_bound(0.5),
        "p95_ms_at_most": upper_bound(0.95),
        "buckets_ms": list(BOUNDS_MS),
    }
