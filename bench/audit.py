"""What auditing costs: an audited workflow edit (PATCH through the API with a JWT, one
change row in the workspace's hash chain) and a run's lifecycle (start, three steps run
inline, succeed: two lifecycle rows), each beside the same work with auditing off
(AUDIT_ENABLED=False, which also stops django-auditlog's rows); and what one
`record_security_event` costs, and one more 403 of a flood (a counter, no row).

Prints ONE JSON line. Runs on a throwaway database (PostgreSQL `bench_audit_<name>` when
DATABASE_URL is set, else var/bench-audit.sqlite3), dropped at the end.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/docchain python bench/audit.py [--n 200]
"""

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

STEPS = 3


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples), 3)


def timed(call, n: int) -> list[float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - started) * 1000)
    return out


def interleaved(call, n: int, settings) -> tuple[list[float], list[float]]:
    """Audited and unaudited calls taken turn about, so drift and noise hit both alike."""
    on, off = [], []
    for i in range(n):
        for enabled, samples in ((True, on), (False, off)):
            settings.AUDIT_ENABLED = enabled
            started = time.perf_counter()
            call(i)
            samples.append((time.perf_counter() - started) * 1000)
    settings.AUDIT_ENABLED = True
    return on, off


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from bench.support import throwaway_database

    vendor = connection.vendor
    settings.AUDIT_CACHE_PREFIX = f"bench-audit-{uuid.uuid4().hex[:8]}"
    settings.RATELIMIT_ENABLE = False
    settings.WRITE_THROTTLE_ENABLED = False  # 400+ edits a minute is the point here
    settings.ALLOWED_HOSTS = ["*"]
    with throwaway_database("audit"):
        from rest_framework.test import APIClient

        from accounts import services as accounts
        from accounts.scoping import Actor
        from audit.models import AuditLogEntry
        from workflows import authoring
        from workflows.engine import runs
        from workflows.engine.inline import InlineDispatcher

        user = accounts.register_user(
            username="bench", password="Bench-password-42", email="bench@example.com"
        )
        workspace = accounts.personal_workspace(user)
        client = APIClient()
        token = client.post(
            "/api/v3/auth/login",
            {"username": "bench", "password": "Bench-password-42"},
            format="json",
        ).json()["access"]
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        definition = {
            "name": "Bench",
            "inputs": [{"name": "x", "type": "string", "default": "x"}],
            "steps": [
                {"key": f"s{i}", "kind": "transform", "prompt": f"{i} {{{{ inputs.x }}}}"}
                for i in range(1, STEPS + 1)
            ],
        }
        workflow = authoring.create_workflow(
            actor=Actor(user), workspace=workspace, definition=definition
        )
        url = f"/api/v3/workflows/{workflow.pk}/"

        def edit(i: int) -> None:
            response = client.patch(url, {"description": f"edit {uuid.uuid4().hex}"}, "json")
            assert response.status_code == 200, response.content

        def lifecycle(i: int) -> None:
            dispatcher = InlineDispatcher()
            run = runs.start_run(workflow=workflow, actor=Actor(user), dispatcher=dispatcher)
            dispatcher.drain()
            assert run.__class__.objects.get(pk=run.pk).status == "succeeded"

        for i in range(20):  # warm up both paths, both ways
            edit(i)
            lifecycle(i)
        from audit.events import SecurityEventKind as K
        from audit.services import record_security_event

        for _ in range(20):
            record_security_event(K.PASSWORD_CHANGED, actor=user)
        event_ms = timed(lambda i: record_security_event(K.PASSWORD_CHANGED, actor=user), args.n)
        counted_ms = timed(  # a 403 flood: after the window's first row, a counter only
            lambda i: record_security_event(K.ACCESS_DENIED, actor=user), args.n
        )
        rows_before = AuditLogEntry.objects.count()
        edit_on, edit_off = interleaved(edit, args.n, settings)
        runs_n = max(args.n // 4, 10)
        run_on, run_off = interleaved(lifecycle, runs_n, settings)
        rows_written = AuditLogEntry.objects.count() - rows_before

    edit_cost = median_ms(edit_on) - median_ms(edit_off)
    run_cost = median_ms(run_on) - median_ms(run_off)
    print(
        json.dumps(
            {
                "bench": "audit",
                "database": vendor,
                "n_edits": args.n,
                "n_runs": runs_n,
                "steps_per_run": STEPS,
                "edit_audited_ms_p50": median_ms(edit_on),
                "edit_unaudited_ms_p50": median_ms(edit_off),
                "edit_ratio": round(median_ms(edit_on) / median_ms(edit_off), 3),
                "audit_cost_per_request_ms": round(edit_cost, 3),
                "run_audited_ms_p50": median_ms(run_on),
                "run_unaudited_ms_p50": median_ms(run_off),
                "run_ratio": round(median_ms(run_on) / median_ms(run_off), 3),
                "audit_cost_per_run_ms": round(run_cost, 3),
                "audit_cost_per_engine_step_ms": round(run_cost / STEPS, 3),
                "audit_rows_written": rows_written,
                "security_event_ms_p50": median_ms(event_ms),
                "counted_403_event_ms_p50": median_ms(counted_ms),
            }
        )
    )


if __name__ == "__main__":
    main()
