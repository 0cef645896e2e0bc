"""Prometheus metrics: django-prometheus's (requests, latency, database, cache) plus ours.

Two kinds, so that every process's figures add up however many web and worker processes run:
- Counted where they happen (runs and steps finished, step durations): prometheus-client
  metrics updated from the engine's committed events in whatever process runs the step (a
  Celery worker). With PROMETHEUS_MULTIPROC_DIR set (one directory shared by every web and
  worker process of a host), prometheus-client's multiprocess mode writes them to files
  there and `/metrics` adds up all processes' files; without it, one process counts alone.
- Read at scrape time from the shared truth (the database and Redis): runs and steps in each
  live state, queue depth per priority, workers alive, AI tokens and cost by model, WebSocket
  connections, background tasks by status, notification deliveries by channel and status.
  A collector computes these when `/metrics` is read, so any web process answers the same.
"""

import logging
import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

logger = logging.getLogger(__name__)

STEP_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

RUNS_FINISHED = Counter("docchain_runs_finished", "Runs that reached a final state.", ["status"])
STEPS_FINISHED = Counter(
    "docchain_steps_finished", "Step runs that reached a final state.", ["status", "kind"]
)
STEP_DURATION = Histogram(
    "docchain_step_duration_seconds",
    "How long a finished step's last attempt took, start to finish.",
    ["kind", "status"],
    buckets=STEP_SECONDS_BUCKETS,
)
_FINAL = {"succeeded", "failed", "cancelled", "skipped"}


def observe_engine_events(events) -> None:
    """Count the finished runs and steps among one transaction's committed events."""
    for kind, payload in events:
        family, _, status = kind.partition(".")
        if status not in _FINAL:
            continue
        if family == "run":
            RUNS_FINISHED.labels(status=status).inc()
        elif family == "step":
            step_kind = payload.get("kind") or ""
            STEPS_FINISHED.labels(status=status, kind=step_kind).inc()
            duration = payload.get("duration_ms")
            if duration is None:
                duration = payload.get("latency_ms")
            if duration is not None:
                STEP_DURATION.labels(kind=step_kind, status=status).observe(duration / 1000)


class StateCollector:
    """Figures read from the database and Redis when /metrics is scraped."""

    def collect(self):
        for name, build in (
            ("runs", self._runs_and_steps),
            ("queues", self._queues),
            ("workers", self._workers),
            ("ai", self._ai),
            ("websocket", self._websocket),
            ("tasks", self._tasks),
            ("notifications", self._notifications),
        ):
            try:
                yield from build()
            except Exception as exc:  # one source down must not hide the others
                logger.warning("metrics: %s unavailable: %s: %s", name, type(exc).__name__, exc)
                up = GaugeMetricFamily(
                    "docchain_metrics_source_up",
                    "Whether a metrics source answered.",
                    labels=["source"],
                )
                up.add_metric([name], 0)
                yield up

    def _runs_and_steps(self):
        from django.db.models import Count

        from workflows.models import Run, RunStatus, StepRun, StepStatus

        runs = GaugeMetricFamily(
            "docchain_runs_in_state", "Runs now queued, running or waiting.", labels=["status"]
        )
        live = [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING]
        found = dict(
            Run.objects.filter(status__in=live)
            .order_by()
            .values_list("status")
            .annotate(Count("id"))
        )
        for status in live:
            runs.add_metric([status], found.get(status, 0))
        yield runs
        steps = GaugeMetricFamily(
            "docchain_steps_in_state", "Step runs now pending, queued, running or waiting.",
            labels=["status"],
        )  # fmt: skip
        live = [StepStatus.PENDING, StepStatus.QUEUED, StepStatus.RUNNING, StepStatus.WAITING]
        found = dict(
            StepRun.objects.filter(status__in=live)
            .order_by()
            .values_list("status")
            .annotate(Count("id"))
        )
        for status in live:
            steps.add_metric([status], found.get(status, 0))
        yield steps

    def _queues(self):
        from config.celery_app import QUEUE_FOR_PRIORITY
        from tasks.control import queue_depths

        depths = queue_depths()
        gauge = GaugeMetricFamily(
            "docchain_queue_depth", "Messages waiting in each Celery queue.",
            labels=["queue", "priority"],
        )  # fmt: skip
        for priority, queue in QUEUE_FOR_PRIORITY.items():
            if depths.get(queue) is not None:
                gauge.add_metric([queue, priority], depths[queue])
        yield gauge

    def _workers(self):
        from analytics.workers import alive_workers

        yield GaugeMetricFamily(
            "docchain_workers_alive", "Celery workers that sent a heartbeat lately.",
            value=len(alive_workers()),
        )  # fmt: skip

    def _ai(self):
        from django.db.models import Sum

        from ai.models import UsageRecord

        tokens = CounterMetricFamily(
            "docchain_ai_tokens", "Tokens through the AI gateway.", labels=["model", "type"]
        )
        cost = CounterMetricFamily(
            "docchain_ai_cost", "Cost through the AI gateway.", labels=["model"]
        )
        calls = CounterMetricFamily(
            "docchain_ai_calls", "Calls through the AI gateway.", labels=["model", "cached"]
        )
        rows = (
            UsageRecord.objects.order_by()
            .values("model", "cached")
            .annotate(
                p=Sum("prompt_tokens"), c=Sum("completion_tokens"), cost=Sum("cost"), n=Sum(1)
            )
        )
        per_model: dict[str, list] = {}
        for row in rows:
            totals = per_model.setdefault(row["model"], [0, 0, 0.0])
            totals[0] += row["p"] or 0
            totals[1] += row["c"] or 0
            totals[2] += float(row["cost"] or 0)
            calls.add_metric([row["model"], str(row["cached"]).lower()], row["n"])
        for model, (prompt, completion, spent) in sorted(per_model.items()):
            tokens.add_metric([model, "prompt"], prompt)
            tokens.add_metric([model, "completion"], completion)
            cost.add_metric([model], spent)
        yield tokens
        yield cost
        yield calls

    def _websocket(self):
        from realtime.stats import read_stats

        total = read_stats(show_group=lambda name: False)["total"]
        yield GaugeMetricFamily(
            "docchain_websocket_connections", "Open WebSocket connections, all web processes.",
            value=total["connections"],
        )  # fmt: skip
        yield GaugeMetricFamily(
            "docchain_websocket_processes", "Web processes serving WebSockets.",
            value=total["processes"],
        )  # fmt: skip

    def _tasks(self):
        from django.db.models import Count

        from tasks.models import BackgroundTask, Status

        found = dict(BackgroundTask.objects.order_by().values_list("status").annotate(Count("pk")))
        gauge = GaugeMetricFamily(
            "docchain_background_tasks", "Background task records by status.", labels=["status"]
        )
        for status in Status.values:
            gauge.add_metric([status], found.get(status, 0))
        yield gauge

    def _notifications(self):
        """Deliveries by channel and status, read from the Delivery rows at scrape time.

        Not a counter incremented where the final status is written: that status is written by
        whichever worker process (or API retry) settles the delivery, so a process-local counter
        is only right in multiprocess mode, only for the processes sharing one
        PROMETHEUS_MULTIPROC_DIR on one host, and it restarts from zero when that directory is
        cleared at start-up (`make run` does). The rows are the one truth every process and
        host shares, so any web process answers the same figures. A gauge, not a counter:
        a retried delivery moves from failed back to queued."""
        from django.db.models import Count

        from notifications.models import ChannelKind, Delivery, DeliveryStatus

        found = {
            (kind, status): n
            for kind, status, n in Delivery.objects.order_by()
            .values_list("channel_kind", "status")
            .annotate(Count("pk"))
        }
        gauge = GaugeMetricFamily(
            "docchain_notification_deliveries",
            "Notification deliveries by channel and status (all workspaces).",
            labels=["channel", "status"],
        )
        for kind in ChannelKind.values:
            for status in DeliveryStatus.values:
                gauge.add_metric([kind, status], found.get((kind, status), 0))
        yield gauge


_state_registry = CollectorRegistry(auto_describe=False)
_state_registry.register(StateCollector())


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def exposition() -> bytes:
    """The text exposition: counted metrics (every process's, in multiprocess mode) and the
    state read now."""
    from prometheus_client import REGISTRY, multiprocess

    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        counted = generate_latest(registry)
    else:
        counted = generate_latest(REGISTRY)
    return counted + generate_latest(_state_registry)
