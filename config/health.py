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
WORKER_PING_TIMEOUT_SECONDS = 1.0


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

    message = async_to_sync(round_trip)()
    if message.get("type") != "health.ping":
        raise RuntimeError("channel layer returned the wrong message")
    return {"backend": type(layer).__name__}


def check_workers() -> dict:
    replies = celery_app.control.ping(timeout=WORKER_PING_TIMEOUT_SECONDS) or []
    workers = sorted(name for reply in replies for name in reply)
    if not workers:
        raise RuntimeError("no worker answered a ping")
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


class HealthView(APIView):
    """Every dependency with its status and latency; 503 when a required one is down."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={200: dict, 503: dict})
    def get(self, request):
        healthy, checks = run_checks()
        body = {"status": "ok" if healthy else "unavailable", "checks": checks}
        return Response(body, status=200 if healthy else 503)
