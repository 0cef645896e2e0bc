"""The web process borrows database connections from a pool: a burst of concurrent requests
is answered, with no more connections than the pool's size (without it, each request's
thread opened one of its own until PostgreSQL refused more: 500s under load)."""

import json
import threading
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from realtime.tests.conftest import token_for
from realtime.tests.servers import asgi_server

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

POOL_SIZE = 3


def _connections_named(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name])
        return cursor.fetchone()[0]


def test_a_burst_of_requests_shares_the_pools_connections(user, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the pool is PostgreSQL's (psycopg_pool)")
    name = f"docchain-web-{uuid.uuid4().hex[:8]}"  # libpq's application_name for the server
    headers = {"Authorization": f"Bearer {token_for(user)}"}
    env = {"PGAPPNAME": name, "DATABASE_POOL_MAX_SIZE": str(POOL_SIZE)}
    with asgi_server(log_path=tmp_path / "web.log", **env) as (base, _):

        def get(_) -> int:
            request = urllib.request.Request(f"http://{base}/api/v3/workflows/", headers=headers)
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                json.loads(response.read())
                return response.status

        most = 0
        done = threading.Event()

        def watch() -> None:
            nonlocal most
            try:
                while not done.is_set():
                    most = max(most, _connections_named(name))
            finally:
                connection.close()  # this thread's own

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            with ThreadPoolExecutor(max_workers=30) as clients:
                statuses = list(clients.map(get, range(120)))
        finally:
            done.set()
            watcher.join()

    assert statuses == [200] * 120
    assert 1 <= most <= POOL_SIZE
