"""What bench scripts share: a throwaway database and a real Celery worker subprocess.

Both are context managers that clean up after themselves (the database is dropped, the worker
terminated, then killed if it lingers); logs go to var/. Import after `django.setup()`.
"""

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def throwaway_database(label: str):
    """A fresh database for the run: PostgreSQL `bench_<label>_<name>` when DATABASE_URL
    points at PostgreSQL, else var/bench-<label>.sqlite3; dropped at the end."""
    from django.conf import settings
    from django.db import connection

    Path(settings.VAR_DIR).mkdir(exist_ok=True)
    test = connection.settings_dict.setdefault("TEST", {})
    if connection.vendor == "sqlite":
        test["NAME"] = str(Path(settings.VAR_DIR) / f"bench-{label}.sqlite3")
    else:
        test["NAME"] = f"bench_{label}_{connection.settings_dict['NAME']}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        yield connection
    finally:
        _drop(connection, old_name)


def _drop(connection, old_name: str) -> None:
    """Drop the throwaway database; sessions this process's threads still hold on it (the
    search indexer, the realtime publisher) are ended first: they are ours."""
    from django.db import connections

    connections.close_all()
    name = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":
        connection.settings_dict["NAME"] = old_name
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
        connection.close()
        connection.settings_dict["NAME"] = name
    connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)


@contextmanager
def worker(
    label: str,
    *,
    concurrency: int,
    include: tuple[str, ...] = (),
    loglevel: str = "WARNING",
    env: dict[str, str] | None = None,
    timeout: float = 90,
):
    """A `celery worker` subprocess (prefork, queues high/default/low) on the run's database,
    with `include` modules loaded (the bare baselines); the broker's queues are purged first
    and the worker answers a ping before this yields."""
    from django.conf import settings

    from config.celery_app import app
    from config.testing import child_env, wait_until

    app.control.purge()
    log = Path(settings.VAR_DIR) / f"bench-{label}-worker.log"
    log.unlink(missing_ok=True)
    argv = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "-Q", "high,default,low", "--concurrency", str(concurrency), "--pool", "prefork",
        "--loglevel", loglevel, "--without-gossip", "--without-mingle",
        "--hostname", f"bench-{label}-{os.getpid()}@%h",
    ]  # fmt: skip
    if include:
        argv += ["--include", ",".join(include)]
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 - our own argv
            argv,
            cwd=settings.BASE_DIR,
            env=child_env(**(env or {})),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: app.control.ping(timeout=0.5), timeout=timeout, message="the worker")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
