"""Engine overhead per step: chains of 10 steps through one real worker (concurrency 2) on
PostgreSQL + Redis, against a plain Celery chain of 10 no-op tasks on the same broker.

Prints ONE JSON line. Uses its own database (`docchain_bench` next to DATABASE_URL's),
created and migrated here and dropped at the end; worker logs go to var/bench/.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/docchain REDIS_URL=redis://127.0.0.1:6379/6 \\
        python bench/engine.py [--runs 40] [--parallel 100] [--kind generate|transform]

A step's time is the gap between consecutive steps' finish times in a chain run alone (the
queue hop, the claim, the step itself, its writes, its events and the successor's enqueue);
its overhead is that minus the model call (the AI gateway's own latency_ms: the offline
model at zero latency still tokenizes and records usage). Steps/s: `--parallel` chains
started at once (created in one transaction, so that every first step is sent on its
commit), the steps finished after the first one over the time from the first finish to the
last (read from the database, so this process's polling does not set the clock). The plain
Celery figures are the same gap between consecutive no-op tasks of a chain, and its tasks per
second measured the same way.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from config import stats  # noqa: E402

os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
os.environ.setdefault("DEBUG", "False")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("OFFLINE_LLM_LATENCY_MS", "0")
os.environ.setdefault("CHANNEL_PREFIX", f"bench-{uuid.uuid4().hex[:6]}")
os.environ.setdefault("CACHE_KEY_PREFIX", f"bench-{uuid.uuid4().hex[:6]}")
os.environ.setdefault("AI_CACHE_PREFIX", f"bench-{uuid.uuid4().hex[:6]}")
BENCH_DB = "docchain_bench"
STEPS = 10


def percentile(samples: list[float], q: int) -> float:
    return stats.percentile(sorted(samples), q / 100)


def chain_definition(kind: str) -> dict:
    steps = [{"key": "s1", "kind": kind, "prompt": "Start {{ inputs.seed }}"}]
    for i in range(2, STEPS + 1):
        # The previous output is long; a short reference keeps prompts the same size.
        steps.append(
            {
                "key": f"s{i}",
                "kind": kind,
                "prompt": f"Step {i} after {{{{ steps.s{i - 1}.title }}}}",
            }
        )
    return {
        "name": "Bench chain",
        "inputs": [{"name": "seed", "type": "string"}],
        "steps": steps,
    }


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "high,default,low",
            "--concurrency",
            "2",
            "--pool",
            "prefork",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--include",
            "bench.celery_noop",
            "--hostname",
            f"bench-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40, help="chains run one at a time")
    parser.add_argument("--parallel", type=int, default=100, help="chains started at once")
    parser.add_argument("--kind", choices=["generate", "transform"], default="generate")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("bench/engine.py needs PostgreSQL: set DATABASE_URL")
    connection.settings_dict.setdefault("TEST", {})["NAME"] = BENCH_DB
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "PYTHONUNBUFFERED": "1",
    }
    log_dir = Path(settings.VAR_DIR) / "bench"
    log_dir.mkdir(parents=True, exist_ok=True)

    import redis
    from celery import chain as celery_chain
    from django.db import transaction
    from django.db.models import Max, Min

    from accounts import services as accounts
    from accounts.scoping import Actor
    from bench.celery_noop import noop
    from config.celery_app import app
    from workflows.authoring import create_workflow
    from workflows.engine.dispatch import CELERY
    from workflows.models import RUN_FINISHED, Run, StepRun
    from workflows.services import start_run

    app.control.purge()
    worker = start_worker(env, log_dir / "engine-worker.log")
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if time.monotonic() > deadline:
                sys.exit("the bench worker did not start; see var/bench/engine-worker.log")
        user = accounts.register_user(
            username="bench", password="Bench-password-42", email="bench@example.com"
        )
        actor = Actor(user)
        workflow = create_workflow(
            actor=actor,
            workspace=accounts.personal_workspace(user),
            definition=chain_definition(args.kind),
        )

        def launch(dispatcher=CELERY) -> Run:
            return start_run(
                actor=actor,
                workflow=workflow,
                inputs={"seed": uuid.uuid4().hex},
                dispatcher=dispatcher,
            )

        def wait(run_ids: list[int], timeout: float = 300, poll: float = 0.02) -> None:
            deadline = time.monotonic() + timeout
            while Run.objects.filter(pk__in=run_ids).exclude(status__in=RUN_FINISHED).exists():
                if time.monotonic() > deadline:
                    sys.exit("runs did not finish; see var/bench/engine-worker.log")
                time.sleep(poll)  # the timings come from the database, not from this loop
            failed = Run.objects.filter(pk__in=run_ids).exclude(status="succeeded").first()
            if failed:
                sys.exit(f"run {failed.pk} {failed.status}: {failed.error}")

        def gaps(run_ids: list[int]) -> dict[str, list[float]]:
            """Per step after the first: finish-to-finish ("step"), the part of it spent in
            the model call (the AI gateway's latency_ms), the rest ("overhead"), the hop (the
            previous step's finish to this one's claim) and claim-to-finish."""
            out: dict[str, list[float]] = {k: [] for k in ("step", "model", "overhead", "hop")}
            out["inside"] = []
            for run_id in run_ids:
                rows = list(
                    StepRun.objects.filter(run_id=run_id)
                    .order_by("id")
                    .values_list("started_at", "finished_at", "latency_ms")
                )
                for (_, before, _), (started, finished, model_ms) in zip(
                    rows, rows[1:], strict=False
                ):
                    step = (finished - before).total_seconds() * 1000
                    out["step"].append(step)
                    out["model"].append(model_ms or 0.0)
                    out["overhead"].append(step - (model_ms or 0.0))
                    out["hop"].append((started - before).total_seconds() * 1000)
                    out["inside"].append((finished - started).total_seconds() * 1000)
            return out

        for _ in range(5):  # warm up both worker processes (imports, connections)
            run = launch()
            wait([run.pk])

        sequential = []
        for _ in range(args.runs):
            run = launch()
            wait([run.pk])
            sequential.append(run.pk)
        measured = gaps(sequential)

        # Started at once: created in one transaction, so every first step is sent on commit.
        with transaction.atomic():
            batch = [launch().pk for _ in range(args.parallel)]
        wait(batch, poll=0.25)  # seldom: this process shares the two cores with the worker
        window = StepRun.objects.filter(run_id__in=batch).aggregate(
            first=Min("finished_at"), last=Max("finished_at")
        )
        engine_rate = (args.parallel * STEPS - 1) / (
            window["last"] - window["first"]
        ).total_seconds()

        # --- plain Celery: a chain of 10 no-op tasks, same broker, same worker -------------
        client = redis.Redis.from_url(settings.REDIS_URL)

        def celery_run(key: str):
            celery_chain(*(noop.si(key, i).set(queue="default") for i in range(STEPS))).delay()

        def celery_wait(keys: list[str], timeout: float = 120, poll: float = 0.005) -> None:
            deadline = time.monotonic() + timeout
            while any(client.llen(key) < STEPS for key in keys):
                if time.monotonic() > deadline:
                    sys.exit("celery chains did not finish")
                time.sleep(poll)

        def finish_times(key: str) -> list[float]:
            return sorted(float(v.split(b":")[1]) for v in client.lrange(key, 0, -1))

        prefix = f"bench-noop-{uuid.uuid4().hex[:8]}"
        keys = [f"{prefix}-warm-{i}" for i in range(5)]
        for key in keys:
            celery_run(key)
            celery_wait([key])
        celery_gaps = []
        for i in range(args.runs):
            key = f"{prefix}-seq-{i}"
            keys.append(key)
            celery_run(key)
            celery_wait([key])
            times = finish_times(key)
            celery_gaps += [(b - a) * 1000 for a, b in zip(times, times[1:], strict=False)]
        batch_keys = [f"{prefix}-par-{i}" for i in range(args.parallel)]
        keys += batch_keys
        for key in batch_keys:
            celery_run(key)
        celery_wait(batch_keys, poll=0.25)
        finished = [t for key in batch_keys for t in finish_times(key)]
        celery_rate = (len(finished) - 1) / (max(finished) - min(finished))
        client.delete(*keys)

        # Round trips to the database per step, counted in this process on the same chain run
        # the way a worker runs it (its first message's step, then follow-on), with wake-ups
        # kept in memory: a figure the machine's load does not move.
        from django.db import connection as db_connection

        from workflows.engine.follow_on import run_with_follow_on
        from workflows.engine.inline import InlineDispatcher

        statements = 0

        def count(execute, sql, params, many, context):
            nonlocal statements
            statements += 1
            return execute(sql, params, many, context)

        inline_runs = 5
        # A finished run's search indexing is a task of its own on a worker, not the steps'.
        settings.SEARCH_INDEX_ON_RUN_FINISH = False
        with db_connection.execute_wrapper(count):
            for _ in range(inline_runs):
                dispatcher = InlineDispatcher()
                run = launch(dispatcher)
                [first] = dispatcher.pending()
                statements = 0  # the steps only, not starting the run
                rest = InlineDispatcher()
                run_with_follow_on(first.step_run_id, first.lease_seconds, dispatcher=rest)
                rest.drain()  # what did not follow on (none, unless the machine stalled)
                per_run = statements
        transactions_per_step = 1  # the one that records the outcome (BEGIN ... COMMIT)
        statements_per_step = per_run / STEPS
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)

    theirs = statistics.median(celery_gaps)
    overhead = measured["overhead"]

    def ms(value: float) -> float:
        return round(value, 2)

    print(
        json.dumps(
            {
                "bench": "engine",
                "step_kind": f"{args.kind} (offline model, 0 ms)"
                if args.kind == "generate"
                else "transform (template only, no model)",
                "steps_per_chain": STEPS,
                "follow_on_seconds": settings.ENGINE_FOLLOW_ON_SECONDS,
                "sequential_chains": args.runs,
                "parallel_chains": args.parallel,
                "median_overhead_ms": ms(statistics.median(overhead)),
                "p95_overhead_ms": ms(percentile(overhead, 95)),
                "steps_per_second": round(engine_rate, 1),
                "median_step_ms": ms(statistics.median(measured["step"])),
                "p95_step_ms": ms(percentile(measured["step"], 95)),
                "median_model_call_ms": ms(statistics.median(measured["model"])),
                "median_hop_ms": ms(statistics.median(measured["hop"])),
                "celery_median_step_ms": ms(theirs),
                "celery_p95_step_ms": ms(percentile(celery_gaps, 95)),
                "celery_steps_per_second": round(celery_rate, 1),
                "ratio_overhead_to_celery": round(statistics.median(overhead) / theirs, 2),
                "ratio_throughput_to_celery": round(engine_rate / celery_rate, 3),
                "db_statements_per_step": round(statements_per_step, 1),
                "db_transactions_per_step": transactions_per_step,
                "load_average": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
