"""Helpers for tests that need real processes: a Celery worker, an ASGI server.

They point a child process at the very database and Redis the test run uses.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)


def database_url() -> str:
    """A DATABASE_URL for the test database this process is connected to."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgresql://{user}{password}@{host}:{port}/{db['NAME']}"


def raw_connection():
    """A second PostgreSQL session on the test database (its own transaction, its locks)."""
    import psycopg

    db = connection.settings_dict
    return psycopg.connect(
        dbname=db["NAME"],
        user=db.get("USER") or "postgres",
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
    )


def child_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    return env


@contextmanager
def in_process_worker(*, concurrency: int) -> Iterator:
    """A real Celery worker in threads of this process, consuming high, default and low; it
    starts with an empty broker so nothing from an earlier run reaches it."""
    from celery.contrib.testing.worker import start_worker

    from config.celery_app import app

    app.loader.import_module("celery.contrib.testing.tasks")  # the ping check's task
    app.control.purge()
    with start_worker(
        app,
        pool="threads",
        concurrency=concurrency,
        queues=["high", "default", "low"],
        perform_ping_check=True,
        shutdown_timeout=10,
    ) as worker:
        yield worker


class SharedWorker:
    """One in-process worker for a whole test session, started by the first test that asks for
    it (the `celery_worker` fixture): starting and stopping one per test cost seconds each.

    A test that needs the queues for a worker of its own (a child process, kill -9 tests) or
    no worker at all calls `stop()` (`start_worker_process` does); the next test that asks
    starts a new one."""

    def __init__(self) -> None:
        self._context = None
        self.worker = None

    def get(self):
        if self.worker is None:
            self._context = in_process_worker(concurrency=2)
            self.worker = self._context.__enter__()
        return self.worker

    def settle(self, *, timeout: float = 30.0) -> None:
        """Leave nothing running into the next test, whose database is about to be reset:
        messages held for later (retries with a countdown) are revoked, and the tasks running
        now are waited for."""
        if self.worker is None:
            return
        from celery.worker import state

        for request in list(state.reserved_requests):
            state.revoked.add(request.id)
        wait_until(lambda: not state.active_requests, timeout=timeout, message="idle worker")

    def stop(self) -> None:
        if self._context is not None:
            context, self._context, self.worker = self._context, None, None
            context.__exit__(None, None, None)


SHARED_WORKER = SharedWorker()


def start_worker_process(
    *, concurrency: int = 2, queues: str = "high,default,low", log_path: Path | None = None, **env
) -> subprocess.Popen:
    """A real `celery worker` child process; the caller stops it (or kills it with -9). The
    shared in-process worker stops first, so the child gets every message."""
    SHARED_WORKER.stop()
    log = open(log_path or os.devnull, "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(  # noqa: S603 - our own argv
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queues,
            "--concurrency",
            str(concurrency),
            "--pool",
            "prefork",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
        ],
        cwd=BASE_DIR,
        env=child_env(**env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start_redis_server(port: int, cwd: Path) -> subprocess.Popen:
    """A private `redis-server` on `port` that keeps nothing on disk, answering when this
    returns; the caller stops it (a test may kill it and start it again, empty)."""
    server = subprocess.Popen(  # noqa: S603 - our own argv
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],  # noqa: S607
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=cwd,
    )
    wait_until(lambda: answers(port), timeout=30, message="the private redis-server")
    return server


@contextmanager
def silent_listener() -> Iterator[str]:
    """A TCP listener that accepts every connection and never says a word (a hung Redis, a
    network that drops replies); yields a redis:// URL for it."""
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []
    stop = threading.Event()

    def serve():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def wait_until(predicate, *, timeout: float = 30.0, interval: float = 0.05, message: str = ""):
    """Poll `predicate` until it returns a truthy value; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}")


def assert_error(response, status: int, code: str | None = None) -> dict:
    """Assert an API error in the one error shape; return its `error` object."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


class SmtpHandler:
    """An aiosmtpd handler keeping every message it receives (parsed), for tests that read
    what was mailed from a real local SMTP server."""

    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        import email
        import email.policy

        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(
            {"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": message}
        )
        return "250 Message accepted for delivery"


class SmtpServer:
    """A local SMTP server (aiosmtpd) on a free port; `mails` is what it received."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.handler = SmtpHandler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=free_port())

    def start(self) -> "SmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return self.controller.port

    @property
    def mails(self) -> list:
        return self.handler.messages

    def use_in(self, settings) -> None:
        """Point Django's email settings (pytest-django's `settings`) at this server."""
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", self.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""


def fast_flush_on_postgresql() -> None:
    """Empty the tables between transactional tests with DELETE, not TRUNCATE.

    Django's flush truncates every table in one statement: ~1 s for our ~60 tables on the
    2-core machine, ~1.7 s under load, which over the suite's transactional tests is minutes.
    A DELETE FROM each (one statement each: prepared statements cannot hold several) takes
    ~0.1 s for tables that a test leaves nearly empty. The order of the DELETEs does not
    matter: Django creates PostgreSQL foreign keys DEFERRABLE INITIALLY DEFERRED and runs the
    flush in one transaction. A flush that resets sequences still truncates."""
    from django.db.backends.postgresql.operations import DatabaseOperations  # noqa: PLC0415

    truncate = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or not tables:
            return truncate(
                self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        # Table names from Django's own introspection, quoted.
        return [f"DELETE FROM {self.quote_name(table)}" for table in tables]  # noqa: S608

    DatabaseOperations.sql_flush = sql_flush
