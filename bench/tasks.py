"""Throughput of background tasks: 2,000 `diagnostics.echo` bulk-submitted through the API and
run by a real worker subprocess, next to 2,000 bare Celery tasks on the same broker and worker,
and to the durable floor: bare Celery plus only the two committed writes a task record needs
(claim, outcome; bench/celery_floor.py), which bounds what any durable task record can reach.

Prints ONE JSON line. Runs on a throwaway database (PostgreSQL `bench_tasks_<name>` when
DATABASE_URL is set, else var/bench-tasks.sqlite3), dropped at the end; the broker is the
REDIS_URL Redis (its queues are purged first). Writes nothing outside var/.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/docchain REDIS_URL=redis://127.0.0.1:6379/3 \
        python bench/tasks.py [--n 2000] [--concurrency 2] [--rounds 3]

The three phases run in turn, --rounds times, and the figures are each phase's median: on a
shared machine one phase of a few seconds can land on a busy moment (the same code gave
0.49-0.82x in single rounds in a row); every round's ratio is printed too. `cpu_ms_per_task`
says where each phase's time went: CPU per task of this process (the API and the client), the
worker's parent and pool, PostgreSQL and Redis, and how many of the cores were busy.
"""

import argparse
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
# Production's channel layer (Redis pub/sub), here and in the worker (which inherits the
# environment): the test settings' in-memory layer delivers nowhere across processes and costs
# a worker a fresh event loop per event, which is not what a deployment pays for its events.
os.environ["CHANNEL_LAYER"] = "redis"

BARE_TASK = "celery.accumulate"  # built into every Celery worker: returns its arguments


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import django

    django.setup()
    from celery.result import ResultSet
    from django.conf import settings
    from django.db.models import Max, Min
    from rest_framework.test import APIClient

    from accounts import services as accounts
    from bench.support import cpu_seconds, cpu_used, throwaway_database, worker
    from config.celery_app import app
    from config.testing import wait_until
    from tasks.models import BackgroundTask, Status

    # This process serves the API calls, standing in for the web process, which puts what
    # it loaded out of the garbage collector's sight (config/asgi.py): without it, a full
    # collection over Django and the apps (~0.1 s here) fell inside the submits at random.
    gc.freeze()
    with (
        throwaway_database("tasks") as connection,
        worker(
            "tasks",
            concurrency=args.concurrency,
            loglevel="INFO",
            include=("bench.celery_floor",),
        ) as worker_process,
    ):
        user = accounts.register_user(
            username="bench", password="Bench-password-42", email="bench@example.com"
        )
        client = APIClient(HTTP_HOST="localhost")
        client.force_authenticate(user)

        def bare(n: int) -> float:
            started = time.perf_counter()
            with app.producer_or_acquire() as producer:
                results = [
                    app.send_task(BARE_TASK, args=[i], queue="default", producer=producer)
                    for i in range(n)
                ]
            ResultSet(results).join_native(timeout=600, propagate=True)
            return time.perf_counter() - started

        def ours(n: int) -> tuple[float, float]:
            BackgroundTask.objects.all().delete()
            chunk = settings.TASKS_BULK_LIMIT
            started = time.perf_counter()
            for first in range(0, n, chunk):
                items = [
                    {"task_type": "diagnostics.echo", "payload": {"i": i}}
                    for i in range(first, min(n, first + chunk))
                ]
                response = client.post(
                    "/api/v3/background/tasks/bulk-submit", {"tasks": items}, format="json"
                )
                if response.status_code != 201:
                    raise SystemExit(f"bench: bulk-submit answered {response.status_code}")
            submitted = time.perf_counter() - started

            def all_done():
                # One query per poll, as the floor's: the states not yet succeeded.
                left = set(
                    BackgroundTask.objects.exclude(status=Status.SUCCEEDED)
                    .values_list("status", flat=True)
                    .distinct()
                )
                if left & {Status.FAILED, Status.TIMED_OUT}:
                    raise SystemExit("bench: an echo task failed")
                return not left

            wait_until(all_done, timeout=600, message="the echo tasks")
            return time.perf_counter() - started, submitted

        def floor(n: int) -> float:
            """Bare Celery plus the two durable writes a task record needs (claim, outcome):
            records inserted and messages sent in one go, then run to the end."""
            BackgroundTask.objects.all().delete()
            started = time.perf_counter()
            records = BackgroundTask.objects.bulk_create(
                BackgroundTask(
                    submitted_by=user,
                    task_type="diagnostics.echo",
                    payload={"i": i},
                    timeout=60,
                    status=Status.QUEUED,
                )
                for i in range(n)
            )
            with app.producer_or_acquire() as producer, producer.batch(max_size=100):
                for record in records:
                    app.send_task(
                        "bench.floor",
                        args=[str(record.pk)],
                        queue="default",
                        producer=producer,
                        ignore_result=True,
                    )
            wait_until(
                lambda: not BackgroundTask.objects.exclude(status=Status.SUCCEEDED).exists(),
                timeout=600,
                message="the floor tasks",
            )
            return time.perf_counter() - started

        floor(50)
        bare(50)  # warm up both paths (worker imports, connections)
        ours(50)

        def measured(phase, run):
            """Run one phase; its CPU per task by part (bench/support.py) goes to `cpu`."""
            before = cpu_seconds(worker_process.pid)
            outcome = run(args.n)
            seconds = outcome[0] if isinstance(outcome, tuple) else outcome
            cpu[phase].append(
                cpu_used(before, cpu_seconds(worker_process.pid), per=args.n, seconds=seconds)
            )
            return outcome

        rounds = []
        cpu: dict[str, list[dict]] = {"bare": [], "floor": [], "ours": []}
        for _ in range(args.rounds):
            bare_s = measured("bare", bare)
            floor_s = measured("floor", floor)
            rounds.append((bare_s, floor_s, *measured("ours", ours)))
        bare_s, floor_s, ours_s, submit_s = (
            statistics.median(r[i] for r in rounds) for i in range(4)
        )
        durations = sorted(
            BackgroundTask.objects.values_list("duration_ms", flat=True).order_by("duration_ms")
        )
        # The last round's worker pace, from the records: first start to last finish (the run
        # phase overlaps the second bulk request, so it is not ours_seconds - submit).
        span = BackgroundTask.objects.aggregate(first=Min("started_at"), last=Max("finished_at"))
        run_s = (span["last"] - span["first"]).total_seconds()
        result = {
            "bench": "tasks",
            "n": args.n,
            "database": connection.vendor,
            "broker": "redis",
            "worker": f"prefork x{args.concurrency}",
            "bare_celery_tasks_per_s": round(args.n / bare_s, 1),
            "ours_tasks_per_s": round(args.n / ours_s, 1),
            "ratio_ours_to_bare": round((args.n / ours_s) / (args.n / bare_s), 3),
            "floor_tasks_per_s": round(args.n / floor_s, 1),
            "ratio_floor_to_bare": round((args.n / floor_s) / (args.n / bare_s), 3),
            "bare_seconds": round(bare_s, 3),
            "ours_seconds": round(ours_s, 3),
            "ours_api_submit_seconds": round(submit_s, 3),
            "ours_api_submit_ms_per_task": round(submit_s * 1000 / args.n, 2),
            "ours_worker_tasks_per_s": round(args.n / run_s, 1),
            "ours_run_ms_p50": durations[len(durations) // 2],
            "rounds": args.rounds,
            "ratio_ours_to_bare_per_round": [round(b / o, 3) for b, _, o, _ in rounds],
            "ratio_floor_to_bare_per_round": [round(b / f, 3) for b, f, _, _ in rounds],
            # Where a task's time goes: CPU ms per task by part, each part's median over the
            # rounds; `busy_cores` below 2 means the phase waited more than it computed.
            "cpu_ms_per_task": {
                phase: {
                    part: round(statistics.median(r.get(part, 0.0) for r in measures), 2)
                    for part in measures[0]
                }
                for phase, measures in cpu.items()
            },
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
