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


def cpu_seconds(worker_pid: int) -> dict[tuple[int, str], float]:
    """CPU seconds used so far (user + system), by process, of each part of a run, read from
    /proc: this process (the API and the client), the worker's parent and its pool processes,
    PostgreSQL and Redis where they run on this host. Take it before and after a phase and
    give both to `cpu_used`: it says where a task's time goes, and how many cores were busy,
    without a profiler slowing the run down. Linux only; elsewhere it is empty."""
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[tuple[int, str], float] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        pid, ppid = int(entry.name), int(fields[1])
        if pid == os.getpid():
            role = "api_and_client"
        elif pid == worker_pid:
            role = "worker_parent"
        elif ppid == worker_pid:
            role = "worker_pool"
        elif name == "postgres":
            role = "postgresql"
        elif name.startswith("redis-server"):
            role = "redis"
        else:
            continue
        # utime and stime: fields 14 and 15 of /proc/<pid>/stat, 11 and 12 after the name.
        used[pid, role] = (int(fields[11]) + int(fields[12])) / ticks
    return used


def cpu_used(before: dict, after: dict, *, per: int, seconds: float) -> dict[str, float]:
    """Milliseconds of CPU per item (`per` items) by part between two `cpu_seconds`, and
    `busy_cores` over the phase's `seconds`. A process that ended meanwhile is not counted."""
    by_role: dict[str, float] = {}
    for (pid, role), now in after.items():
        by_role[role] = by_role.get(role, 0.0) + now - before.get((pid, role), 0.0)
    total = sum(by_role.values())
    return {
        **{role: round(spent * 1000 / per, 2) for role, spent in sorted(by_role.items())},
        "total": round(total * 1000 / per, 2),
        "busy_cores": round(total / seconds, 2),
    }
