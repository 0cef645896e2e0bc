"""The analytics summary on a generated workspace of 1,000,000 step runs (100,000 runs of 10
steps over the last 28 days), timed beside ONE hand-written SQL statement computing the same
figures (runs by status, success counts, duration p50/p95/p99 and mean, tokens, cost, active
users; steps by status and latency percentiles; by workflow, by model and by user with their
percentiles; background tasks by type and status; AI usage totals).

Prints ONE JSON line: our median time, the SQL's median time from the same run, and the ratio
(goal: at most 1.5). PostgreSQL only (percentile_cont). The data lives in its own database,
`bench_analytics_<name of DATABASE_URL's database>`, generated once with generate_series and
kept for the next run (--drop removes it afterwards). Writes nothing outside the database.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/docchain REDIS_URL=redis://127.0.0.1:6379/3 \
        python bench/analytics.py [--runs 100000] [--steps-per-run 10] [--repeat 5] [--drop]
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

MODELS = ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku", "offline/writer", "local/llama"]
WORKFLOWS = 20
USERS = 5

# The peer: what someone fluent in SQL would write for the same figures, in one statement.
PEER_SQL = """
WITH r AS (
    SELECT * FROM workflows_run
    WHERE workspace_id = %(ws)s AND created_at >= %(since)s AND created_at < %(until)s
), s AS (
    SELECT sr.* FROM workflows_steprun sr JOIN r ON r.id = sr.run_id
)
SELECT
  (SELECT row_to_json(t) FROM (
      SELECT count(*) AS total, count(*) FILTER (WHERE status = 'queued') AS queued,
        count(*) FILTER (WHERE status = 'running') AS running,
        count(*) FILTER (WHERE status = 'waiting') AS waiting,
        count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
        count(*) FILTER (WHERE status = 'failed') AS failed,
        count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
        coalesce(sum(tokens_in), 0) AS tokens_in, coalesce(sum(tokens_out), 0) AS tokens_out,
        sum(cost) AS cost, count(DISTINCT created_by_id) AS active_users,
        avg(extract(epoch FROM finished_at - started_at)) AS mean_seconds,
        percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP
          (ORDER BY extract(epoch FROM finished_at - started_at)) AS pct
      FROM r) t) AS runs,
  (SELECT row_to_json(t) FROM (
      SELECT count(*) AS total,
        count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
        count(*) FILTER (WHERE status = 'failed') AS failed,
        count(*) FILTER (WHERE status = 'skipped') AS skipped,
        count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
        count(*) FILTER (WHERE status IN ('pending', 'queued', 'running', 'waiting')) AS live,
        coalesce(sum(attempts), 0) AS attempts, avg(latency_ms) AS mean_ms,
        percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) AS pct
      FROM s) t) AS steps,
  (SELECT json_agg(t) FROM (
      SELECT r.workflow_id, w.name, count(*) AS runs,
        count(*) FILTER (WHERE r.status = 'succeeded') AS succeeded,
        count(*) FILTER (WHERE r.status = 'failed') AS failed,
        coalesce(sum(r.tokens_in), 0) AS tokens_in, coalesce(sum(r.tokens_out), 0) AS tokens_out,
        sum(r.cost) AS cost,
        percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP
          (ORDER BY extract(epoch FROM r.finished_at - r.started_at)) AS pct
      FROM r JOIN workflows_workflow w ON w.id = r.workflow_id
      GROUP BY r.workflow_id, w.name ORDER BY runs DESC, r.workflow_id LIMIT 20) t) AS by_workflow,
  (SELECT json_agg(t) FROM (
      SELECT model, count(*) AS steps, count(*) FILTER (WHERE status = 'failed') AS failed,
        coalesce(sum(tokens_in), 0) AS tokens_in, coalesce(sum(tokens_out), 0) AS tokens_out,
        sum(cost) AS cost,
        percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) AS pct
      FROM s WHERE model <> '' GROUP BY model ORDER BY steps DESC, model LIMIT 20) t) AS by_model,
  (SELECT json_agg(t) FROM (
      SELECT r.created_by_id, u.username, count(*) AS runs,
        count(*) FILTER (WHERE r.status = 'succeeded') AS succeeded,
        count(*) FILTER (WHERE r.status = 'failed') AS failed,
        coalesce(sum(r.tokens_in), 0) + coalesce(sum(r.tokens_out), 0) AS tokens,
        sum(r.cost) AS cost
      FROM r LEFT JOIN accounts_user u ON u.id = r.created_by_id
      GROUP BY r.created_by_id, u.username ORDER BY runs DESC, r.created_by_id LIMIT 20) t
  ) AS by_user,
  (SELECT json_agg(t) FROM (
      SELECT task_type, status, count(*) AS n FROM tasks_backgroundtask
      WHERE workspace_id = %(ws)s AND created_at >= %(since)s AND created_at < %(until)s
      GROUP BY task_type, status) t) AS tasks,
  (SELECT row_to_json(t) FROM (
      SELECT count(*) AS calls, count(*) FILTER (WHERE cached) AS cached_calls,
        count(*) FILTER (WHERE outcome = 'error') AS failed_calls,
        coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
        coalesce(sum(completion_tokens), 0) AS completion_tokens,
        coalesce(sum(total_tokens), 0) AS total_tokens, coalesce(sum(cost), 0) AS cost
      FROM ai_usagerecord
      WHERE workspace_id = %(ws)s AND created_at >= %(since)s AND created_at < %(until)s) t
  ) AS ai_usage
"""


def generate(*, runs: int, steps_per_run: int) -> int:
    """The workspace (made once): users, workflows, then runs and step runs by SQL."""
    from django.db import connection, transaction

    from accounts import services as accounts
    from accounts.models import Membership, Role, Workspace
    from workflows.models import Run, StepRun, Workflow

    workspace = Workspace.objects.filter(name="bench-analytics").first()
    if (
        workspace is not None
        and StepRun.objects.filter(run__workspace=workspace).count() == runs * steps_per_run
    ):
        return workspace.pk
    Run.objects.all().delete()
    started = time.perf_counter()
    with transaction.atomic():
        owner = accounts.register_user(
            username=f"bench{int(time.time())}", password="Bench-Password-42!", email=""
        )
        workspace = Workspace.objects.create(name="bench-analytics")
        Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
        users = [owner] + [
            accounts.register_user(username=f"{owner.username}-{i}", password="Bench-Password-42!",
                                   email="")
            for i in range(1, USERS)
        ]  # fmt: skip
        Workflow.objects.bulk_create(
            Workflow(workspace=workspace, name=f"Workflow {i}", created_by=owner)
            for i in range(WORKFLOWS)
        )
    flows = list(Workflow.objects.filter(workspace=workspace).values_list("id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO workflows_run (workspace_id, workflow_id, workflow_version, definition,
                inputs, status, priority, trigger, error_code, error, tokens_in, tokens_out, cost,
                created_by_id, created_at, started_at, finished_at)
            SELECT %(ws)s, (%(flows)s::bigint[])[1 + (g %% %(nflows)s)], 1, '{}', '{}',
                CASE WHEN x < 0.85 THEN 'succeeded' WHEN x < 0.95 THEN 'failed'
                     WHEN x < 0.98 THEN 'cancelled' ELSE 'running' END,
                'normal', 'api', '', '', 1000 + (g %% 500), 400 + (g %% 300),
                round((0.001 + (g %% 100) / 10000.0)::numeric, 6),
                (%(users)s::bigint[])[1 + (g %% %(nusers)s)],
                t, t, CASE WHEN x < 0.98 THEN t + (1 + 60 * y) * interval '1 second' END
            FROM (SELECT g, random() AS x, random() AS y,
                         now() - random() * interval '28 days' AS t
                  FROM generate_series(1, %(runs)s) AS g) AS src
            """,
            {"ws": workspace.pk, "flows": flows, "nflows": len(flows), "runs": runs,
             "users": [u.pk for u in users], "nusers": len(users)},
        )  # fmt: skip
        cursor.execute(
            """
            INSERT INTO workflows_steprun (run_id, key, kind, depends_on, status, attempts,
                max_attempts, rendered_prompt, model, tokens_in, tokens_out, cost, latency_ms,
                error_code, error, queued_at, started_at, finished_at, task_id, timeout_seconds,
                context_keys, decision_comment)
            SELECT r.id, 's' || g, 'generate', '[]',
                CASE WHEN r.status = 'failed' AND g = %(steps)s THEN 'failed'
                     WHEN r.status = 'running' AND g = %(steps)s THEN 'running'
                     ELSE 'succeeded' END,
                1, 3, '', (%(models)s::text[])[1 + (g %% %(nmodels)s)], 100, 40,
                0.0001, 50 + random() * 2000, '', '', r.started_at, r.started_at, r.finished_at,
                '', 120, '[]', ''
            FROM workflows_run r CROSS JOIN generate_series(1, %(steps)s) AS g
            WHERE r.workspace_id = %(ws)s
            """,
            {"ws": workspace.pk, "steps": steps_per_run, "models": MODELS,
             "nmodels": len(MODELS)},
        )  # fmt: skip
        cursor.execute("ANALYZE workflows_run")
        cursor.execute("ANALYZE workflows_steprun")
    print(
        f"bench: generated {runs} runs and {runs * steps_per_run} step runs in "
        f"{time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return workspace.pk


def timed(fn, repeat: int) -> tuple[float, object]:
    fn()  # warm: plans, caches
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--steps-per-run", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--drop", action="store_true", help="drop the bench database at the end")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("bench/analytics.py needs PostgreSQL: set DATABASE_URL")
    test = connection.settings_dict.setdefault("TEST", {})
    test["NAME"] = f"bench_analytics_{connection.settings_dict['NAME']}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=True)
    try:
        from django.utils import timezone

        from analytics import selectors
        from analytics.window import system_window

        workspace_id = generate(runs=args.runs, steps_per_run=args.steps_per_run)
        until = timezone.now()
        window = system_window(
            since=until - timezone.timedelta(days=30), until=until, workspace_ids=[workspace_id]
        )

        def ours():
            return selectors.summary(window)

        def peer():
            with connection.cursor() as cursor:
                cursor.execute(
                    PEER_SQL, {"ws": workspace_id, "since": window.since, "until": window.until}
                )
                return cursor.fetchone()

        ours_ms, summary = timed(ours, args.repeat)
        peer_ms, row = timed(peer, args.repeat)
        runs_row, steps_row = row[0], row[1]
        # The same figures, or the comparison means nothing.
        assert summary["runs"]["total"] == runs_row["total"], (summary["runs"], runs_row)
        assert summary["steps"]["total"] == steps_row["total"]
        assert abs(summary["runs"]["duration_seconds"]["p95"] - runs_row["pct"][1]) < 1e-3
        assert abs(summary["steps"]["latency_ms"]["p99"] - steps_row["pct"][2]) < 1e-3
        ratio = ours_ms / peer_ms
        print(
            json.dumps(
                {
                    "bench": "analytics_summary",
                    "runs": summary["runs"]["total"],
                    "step_runs": summary["steps"]["total"],
                    "window_days": 30,
                    "repeat": args.repeat,
                    "summary_ms": round(ours_ms, 1),
                    "hand_written_sql_ms": round(peer_ms, 1),
                    "ratio": round(ratio, 3),
                    "goal_ratio_at_most": 1.5,
                    "goal_met": ratio <= 1.5,
                }
            )
        )
    finally:
        if args.drop:
            connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)
        else:
            connection.close()


if __name__ == "__main__":
    main()
