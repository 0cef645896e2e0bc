import asyncio
import copy
import shutil

import pytest
from asgiref.sync import sync_to_async

from config import health
from config.testing import free_port, start_redis_server

pytestmark = pytest.mark.django_db


def test_liveness_needs_nothing(api):
    response = api.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readiness_reports_each_dependency(api):
    body = api.get("/api/v3/health").json()
    assert set(body["checks"]) == {"database", "cache", "broker", "channel_layer", "workers"}
    for name in ("database", "cache", "broker", "channel_layer"):
        check = body["checks"][name]
        assert check["status"] == "ok", (name, check)
        assert check["required"] is True and check["latency_ms"] >= 0


def test_readiness_is_503_when_a_required_dependency_is_down(api, settings):
    # Point the broker at a port where nothing listens: a real failed connection.
    from config.celery_app import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = api.get("/api/v3/health")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"


def test_workers_are_reported_but_not_required():
    healthy, checks = health.run_checks()
    assert checks["workers"]["required"] is False
    # Whether or not a worker happens to run, the required dependencies decide health.
    assert healthy is True


def test_openapi_describes_the_endpoints(api):
    response = api.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v3/auth/register",
        "/api/v3/auth/login",
        "/api/v3/security/auth/login",
        "/api/v3/workspaces/",
        "/api/v3/workspaces/{workspace_pk}/members/",
        "/api/v3/security/api-keys/",
        "/api/v3/health",
    ):
        assert path in paths, path


def test_openapi_operations_are_tagged_by_app(api):
    schema = api.get("/openapi.json").json()
    declared = [tag["name"] for tag in schema["tags"]]
    tag_of = {
        (path, method): operation["tags"]
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }
    assert all(len(tags) == 1 and tags[0] in declared for tags in tag_of.values()), tag_of
    assert tag_of[("/api/v3/workflows/", "get")] == ["workflows"]
    assert tag_of[("/api/v3/auth/login", "post")] == ["accounts"]
    assert tag_of[("/api/v3/advanced/ai/generate", "post")] == ["ai"]
    assert tag_of[("/api/v3/background/tasks/submit/", "post")] == ["tasks"]


def test_docs_pages_use_local_assets(api):
    for url in ("/docs", "/redoc"):
        page = api.get(url).content.decode()
        assert "/static/drf_spectacular_sidecar/" in page
        assert "cdn.jsdelivr" not in page and "unpkg.com" not in page


def test_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    # --fail-on-warn: an endpoint the generator cannot describe fails the suite.
    call_command(
        "spectacular", "--file", str(tmp_path / "schema.yaml"), "--validate", "--fail-on-warn"
    )
    assert (tmp_path / "schema.yaml").stat().st_size > 1000


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_the_channel_layer_check_is_not_fooled_by_a_redis_restart(settings, tmp_path):
    """In the web process the layer keeps its connection on the server's event loop; after
    Redis restarts, that connection is closed, and the first check must not call the layer
    down for it (it answered 503 once after every restart)."""
    port = free_port()

    layers = copy.deepcopy(settings.REDIS_CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["hosts"] = [{"address": f"redis://127.0.0.1:{port}/0"}]
    settings.CHANNEL_LAYERS = layers
    server = start_redis_server(port, tmp_path)

    async def check_twice_on_one_loop() -> list[dict]:
        nonlocal server
        results = [await sync_to_async(health.check_channel_layer)()]
        server.terminate()  # restarted empty: the layer's connection is gone
        server.wait(timeout=30)
        server = start_redis_server(port, tmp_path)
        results.append(await sync_to_async(health.check_channel_layer)())
        return results

    try:
        results = asyncio.run(check_twice_on_one_loop())
    finally:
        server.kill()
        server.wait(timeout=30)
    assert [r["backend"] for r in results] == ["RedisPubSubChannelLayer"] * 2
