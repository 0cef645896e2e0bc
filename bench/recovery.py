"""Recovery from single faults: seconds from the fault to every run finished, per fault.

Real processes only, and only ones this script starts: a private `redis-server` on a free port
(the broker, cache and channel layer of everything here), a real Celery worker (prefork), and
this process, which starts runs and does the beat job's work (the lease sweep every
--sweep-seconds). Faults, one after the other, each on fresh runs caught mid-step:
  db_cut        pg_terminate_backend of the worker's own database backends (PostgreSQL)
  redis_restart redis-server killed (-9) and started again empty on the same port; runs are
                also started while it is down (they must start when it is back); /api/v3/health
                must answer 503 while it is down and 200 after
  worker_kill   kill -9 of the worker, a new worker started
Every run must finish with exactly one document per step. Messages the killed worker held
unacked are redelivered (a short visibility timeout here) and must change nothing.

Prints ONE JSON line: per fault, the seconds from the fault to all runs finished, and the
bound the engine promises (a lease + a sweep + the steps' own work) beside the bound before
leases were renewed (the step timeout + grace for a dead worker; ENGINE_STALE_QUEUED_SECONDS
600 for a lost queue), with the ratio.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/docchain python bench/recovery.py
        [--runs 4] [--faults db_cut,redis_restart,worker_kill] [--keep-database]

Uses its own database (`docchain_bench_recovery` next to DATABASE_URL's, created, migrated and
dropped here) unless --keep-database (the tests: DATABASE_URL is their test database). Logs go
to var/bench/.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FAULTS = ("db_cut", "redis_restart", "worker_kill")
LEASE_SECONDS = 6
HEARTBEAT_SECONDS = 1
VISIBILITY_SECONDS = 10
STEP_LATENCY_MS = 1500
STEP_TIMEOUT = 120  # the default: recovery must not wait for it
STEPS = 3
OLD_LEASE_GRACE = 15
OLD_STALE_QUEUED = 600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    def __init__(self, log_dir: Path):
        if not shutil.which("redis-server"):
            sys.exit("bench/recovery.py needs redis-server")
        self.port = free_port()
        self.log = log_dir / f"recovery-redis-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                str(self.log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        sys.exit("the private redis-server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


def setup(args):
    redis_server = PrivateRedis(Path(args.log_dir))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": os.environ.get(
                "DJANGO_SETTINGS_MODULE", "config.settings.local"
            ),
            "DEBUG": "False",
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": redis_server.url,
            "CELERY_BROKER_URL": redis_server.url,
            "CELERY_RESULT_BACKEND": redis_server.url,
            "CHANNEL_LAYER": "redis",
            "OFFLINE_LLM_LATENCY_MS": str(STEP_LATENCY_MS),
            "ENGINE_LEASE_SECONDS": str(LEASE_SECONDS),
            "ENGINE_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "ENGINE_SWEEP_SECONDS": str(args.sweep_seconds),
            "ENGINE_STALE_QUEUED_SECONDS": "120",
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_SECONDS),
            "CACHE_KEY_PREFIX": f"recovery-{uuid.uuid4().hex[:6]}",
            "ALLOWED_HOSTS": "*",
        }
    )
    return redis_server


def main() -> None:  # noqa: C901, PLR0915 - one scenario after another, in order
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=4, help="runs caught by each fault")
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--sweep-seconds", type=int, default=2)
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--log-dir", default=str(ROOT / "var" / "bench"))
    parser.add_argument("--timeout", type=float, default=240, help="per fault")
    args = parser.parse_args()
    faults = [f for f in args.faults.split(",") if f]
    Path(args.log_dir).mkdir(parents=True, exist_ok=True)
    redis_server = setup(args)
    redis_server.start()

    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql" and "db_cut" in faults:
        faults.remove("db_cut")  # pg_terminate_backend is PostgreSQL's
    old_name = None
    if not args.keep_database:
        if connection.vendor != "postgresql":
            sys.exit("bench/recovery.py needs PostgreSQL (or --keep-database): set DATABASE_URL")
        connection.settings_dict.setdefault("TEST", {})["NAME"] = "docchain_bench_recovery"
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)

    from django.test import Client

    from accounts import services as accounts
    from accounts.scoping import Actor
    from config.testing import database_url
    from workflows.authoring import create_workflow
    from workflows.engine import start_run, sweep_leases
    from workflows.models import RUN_FINISHED, Document, Run, RunStatus, StepRun

    app_name = f"docchain-recovery-worker-{uuid.uuid4().hex[:8]}"
    worker_database_url = database_url()
    if worker_database_url.startswith("postgres"):
        # The worker's database sessions carry a name: only they are cut (SQLite has no
        # sessions to cut, nor this option).
        separator = "&" if "?" in worker_database_url else "?"
        worker_database_url += f"{separator}application_name={app_name}"
    worker_env = {
        **os.environ,
        "DATABASE_URL": worker_database_url,
        "PYTHONUNBUFFERED": "1",
    }
    workers: list[subprocess.Popen] = []

    def start_worker(name: str) -> subprocess.Popen:
        log = open(Path(args.log_dir) / f"recovery-{name}.log", "ab")  # noqa: SIM115
        worker = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "high,default,low"]
            + ["--concurrency", "2", "--pool", "prefork", "--loglevel", "INFO"]
            + ["--without-gossip", "--without-mingle", "--hostname", f"{name}-{os.getpid()}@%h"],
            cwd=ROOT,
            env=worker_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        workers.append(worker)
        return worker

    def sweep_quietly() -> None:
        try:
            sweep_leases()
        except Exception as exc:  # the broker may be down: the next sweep tries again
            print(f"sweep: {type(exc).__name__}: {exc}", file=sys.stderr)

    def health() -> int:
        return Client(HTTP_HOST="127.0.0.1").get("/api/v3/health").status_code

    user = accounts.register_user(
        username=f"recovery-{uuid.uuid4().hex[:6]}",
        password="Bench-password-42",
        email="recovery@example.com",
    )
    actor = Actor(user)
    steps = [{"key": "s1", "kind": "generate", "prompt": "Start {{ inputs.seed }}"}]
    steps += [
        {"key": f"s{i}", "kind": "generate", "prompt": f"Go on from {{{{ steps.s{i - 1}.title }}}}"}
        for i in range(2, STEPS + 1)
    ]
    workflow = create_workflow(
        actor=actor,
        workspace=accounts.personal_workspace(user),
        definition={
            "name": "Recovery chain",
            "default_model": "offline/writer",
            "inputs": [{"name": "seed", "type": "string"}],
            "steps": [{**step, "timeout": STEP_TIMEOUT} for step in steps],
        },
    )

    def launch(n: int) -> list[int]:
        return [
            start_run(actor=actor, workflow=workflow, inputs={"seed": uuid.uuid4().hex}).pk
            for _ in range(n)
        ]

    def wait_running(run_ids: list[int], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not StepRun.objects.filter(run_id__in=run_ids, status="running").exists():
            if time.monotonic() > deadline:
                sys.exit("no step started running; see the worker logs in " + args.log_dir)
            time.sleep(0.05)

    def wait_finished(run_ids: list[int], since: float) -> float | None:
        deadline = time.monotonic() + args.timeout
        next_sweep = time.monotonic()
        while time.monotonic() < deadline:
            if time.monotonic() >= next_sweep:
                sweep_quietly()
                next_sweep = time.monotonic() + args.sweep_seconds
            try:
                if not Run.objects.filter(pk__in=run_ids).exclude(status__in=RUN_FINISHED).exists():
                    return round(time.monotonic() - since, 2)
            except Exception:  # noqa: S110 - this process's connection may be cut too
                connection.close()
            time.sleep(0.1)
        return None

    def outcome(run_ids: list[int]) -> dict:
        runs = list(Run.objects.filter(pk__in=run_ids))
        documents = Document.objects.filter(run_id__in=run_ids)
        per_step = {}
        for doc in documents.values("run_id", "step_key"):
            key = (doc["run_id"], doc["step_key"])
            per_step[key] = per_step.get(key, 0) + 1
        return {
            "runs": len(run_ids),
            "succeeded": sum(run.status == RunStatus.SUCCEEDED for run in runs),
            "documents": documents.count(),
            "one_document_per_step": len(per_step) == len(run_ids) * STEPS
            and set(per_step.values()) == {1},
        }

    def worker_ready(worker_log: str, timeout: float = 180) -> None:
        path = Path(args.log_dir) / f"recovery-{worker_log}.log"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists() and b" ready." in path.read_bytes():
                return
            time.sleep(0.1)
        sys.exit(f"the worker did not start; see {path}")

    results: dict[str, dict] = {}
    worker = start_worker("first")
    worker_ready("first")
    try:
        for fault in faults:
            run_ids = launch(args.runs)
            wait_running(run_ids)
            result: dict = {}
            if fault == "db_cut":
                fault_at = time.monotonic()
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE application_name = %s",
                        [app_name],
                    )
                    result["backends_terminated"] = cursor.fetchone()[0]
            elif fault == "redis_restart":
                fault_at = time.monotonic()
                redis_server.kill()
                result["health_while_down"] = health()
                late = launch(2)  # started while the broker is down
                run_ids += late
                time.sleep(2)
                redis_server.start()  # empty: no queue, no unacked messages, no marker
                time.sleep(0.5)
                result["health_after"] = health()
            else:  # worker_kill
                fault_at = time.monotonic()
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=30)
                worker = start_worker("second")
            result["recovery_seconds"] = wait_finished(run_ids, fault_at)
            result.update(outcome(run_ids))
            if fault == "worker_kill":
                # The killed worker's unacked messages come back after the visibility timeout:
                # a new worker takes them, finds their steps done, and writes nothing.
                time.sleep(VISIBILITY_SECONDS + 6)
                result["after_redelivery"] = outcome(run_ids)
            results[fault] = result
    finally:
        for process in workers:
            if process.poll() is None:
                process.terminate()
        for process in workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        redis_server.kill()
        if old_name is not None:
            connection.creation.destroy_test_db(old_name, verbosity=0)

    lease_bound = LEASE_SECONDS + args.sweep_seconds
    before = {
        "db_cut": STEP_TIMEOUT + OLD_LEASE_GRACE,
        "redis_restart": OLD_STALE_QUEUED,
        "worker_kill": STEP_TIMEOUT + OLD_LEASE_GRACE,
    }
    for fault, result in results.items():
        result["bound_seconds"] = round(lease_bound + STEPS * STEP_LATENCY_MS / 1000 + 5, 1)
        result["bound_before_seconds"] = before[fault]
        if result["recovery_seconds"]:
            result["ratio_to_before"] = round(result["recovery_seconds"] / before[fault], 3)
    print(
        json.dumps(
            {
                "bench": "recovery",
                "steps_per_run": STEPS,
                "step_seconds": STEP_LATENCY_MS / 1000,
                "step_timeout_seconds": STEP_TIMEOUT,
                "lease_seconds": LEASE_SECONDS,
                "sweep_seconds": args.sweep_seconds,
                "faults": results,
                "load_average": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
