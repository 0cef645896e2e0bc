"""Health: `/health` says the process is alive; `/api/v3/health` checks every dependency."""

import time
import uuid
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.celery_app import app as celery_app

BROKER_TIMEOUT_SECONDS = 2.0
CHANNEL_LAYER_ATTEMPTS = 3
CHANNEL_LAYER_RETRY_SECONDS = 0.5


def alive(request):
    return JsonResponse({"status": "ok"})


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"vendor": connection.vendor}


def check_cache() -> dict:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("value written to the cache was not read back")
    cache.delete(key)
    return {}


def check_broker() -> dict:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
        return {"transport": conn.transport_cls}


def check_channel_layer() -> dict:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")

    async def round_trip():
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "health.ping"})
        return await layer.receive(channel)

    for attempt in range(CHANNEL_LAYER_ATTEMPTS):
        try:
            message = async_to_sync(round_trip)()
            break
        except Exception:
            # After Redis restarts, the connection the layer kept on this event loop fails
            # until the layer's receiver has connected again (about a second): down only if
            # it still fails then.
            if attempt == CHANNEL_LAYER_ATTEMPTS - 1:
                raise
            time.sleep(CHANNEL_LAYER_RETRY_SECONDS)
    if message.get("type") != "health.ping":
        raise RuntimeError("channel layer returned the wrong message")
    return {"backend": type(layer).__name__}


def check_workers() -> dict:
    """Workers that sent a heartbeat lately (analytics.workers: read from Redis at once; a
    broadcast ping always waited its whole timeout, since nobody knows how many will answer)."""
    from analytics.workers import alive_workers

    workers = alive_workers()
    if not workers:
        raise RuntimeError("no worker has sent a heartbeat lately")
    return {"workers": workers}


# name -> (check, required). Workers are reported but not required: the API keeps taking
# requests (and runs wait in the queue) while workers restart.
CHECKS: dict[str, tuple[Callable[[], dict], bool]] = {
    "database": (check_database, True),
    "cache": (check_cache, True),
    "broker": (check_broker, True),
    "channel_layer": (check_channel_layer, True),
    "workers": (check_workers, False),
}


def run_checks() -> tuple[bool, dict]:
    results, healthy = {}, True
    for name, (check, required) in CHECKS.items():
        started = time.perf_counter()
        try:
            info = check()
            status = "ok"
        except Exception as exc:  # a failed check is data to report, not an error to raise
            info = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            status = "down"
            healthy = healthy and not required
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        results[name] = {"status": status, "required": required, "latency_ms": latency_ms, **info}
    return healthy, results


def performance() -> dict:
    """For staff and metrics scrapers: request latency over the last minutes (every web
    process), queue depths, the oldest queued step's age and the live workers."""
    from analytics.request_latency import recent
    from analytics.workers import alive_workers
    from tasks.control import queue_depths

    figures: dict = {}
    for name, read in (
        ("requests", recent),
        ("queue_depths", queue_depths),
        ("workers", lambda: {"count": len(alive := alive_workers()), "names": alive}),
        ("oldest_queued_step_seconds", _oldest_queued_step_seconds),
    ):
        try:
            figures[name] = read()
        except Exception as exc:  # one figure missing is data, not an error
            figures[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return figures


def _oldest_queued_step_seconds() -> float | None:
    from django.db.models import Min
    from django.utils import timezone

    from workflows.models import StepRun, StepStatus

    oldest = StepRun.objects.filter(status=StepStatus.QUEUED).aggregate(t=Min("queued_at"))["t"]
    return round((timezone.now() - oldest).total_seconds(), 3) if oldest else None


def may_see_performance(request) -> bool:
    """Staff (any of the API's authentications) or the metrics bearer token."""
    from analytics.access import has_metrics_token

    if has_metrics_token(request):
        return True
    try:
        user = request.user  # authenticates lazily; a bad credential is just anonymous here
    except Exception:
        return False
    return bool(user and user.is_authenticated and user.is_staff)


class HealthView(APIView):
    """Every dependency with its status and latency; 503 when a required one is down. Staff
    and callers with the metrics token also get performance figures."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: dict, 503: dict})
    def get(self, request):
        healthy, checks = run_checks()
        body = {"status": "ok" if healthy else "unavailable", "checks": checks}
        if may_see_performance(request):
            body["performance"] = performance()
        return Response(body, status=200 if healthy else 503)

    def perform_authentication(self, request):
        pass  # lazily, in may_see_performance: health never refuses a caller
