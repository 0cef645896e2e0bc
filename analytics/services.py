"""Analytics' verbs: live pushes, reports, cache management."""

import logging

from django.utils import timezone

from analytics import selectors
from analytics.window import system_window
from config.safejson import json_safe
from realtime.events import publish
from realtime.groups import workspace_group

logger = logging.getLogger(__name__)


def current_hour_counters(workspace_id: int) -> dict:
    """The summary's run figures for the current (UTC) hour of one workspace."""
    now = timezone.now()
    window = system_window(
        since=now.replace(minute=0, second=0, microsecond=0),
        until=now,
        workspace_ids=[workspace_id],
    )
    figures = selectors.run_figures(window)
    return {"workspace_id": workspace_id, "window": window.describe(), **figures}


def push_live_counters(*, workspace_id: int) -> dict:
    """Publish `analytics.updated` with the current hour's counters to the workspace topic."""
    from django.core.cache import cache

    from analytics.live import PUSH_KEY

    data = current_hour_counters(workspace_id)
    publish("analytics.updated", data, groups=[workspace_group(workspace_id)])
    try:  # the period is over: the next run event schedules the next push
        cache.delete(PUSH_KEY.format(workspace_id))
    except Exception as exc:
        logger.debug("analytics push key not cleared: %s", exc)
    return data


# --- Reports ---------------------------------------------------------------------------------


def _report_contents(workspace_id: int, since, until) -> tuple[dict, list]:
    from analytics import insights

    window = system_window(since=since, until=until, workspace_ids=[workspace_id])
    return selectors.summary(window), insights.insights(window)


def create_report(*, actor, workspace_id: int, since=None, until=None, time_range=None):
    """A report of one workspace now (editors and up), for since..until or a time_range
    (default: the last week)."""
    from accounts.models import Role
    from accounts.scoping import require_role
    from analytics.window import parse_window

    require_role(actor, workspace_id, Role.EDITOR)
    params = {"workspace": workspace_id, "time_range": time_range or ("week" if not since else "")}
    if since:
        params["since"] = since.isoformat() if hasattr(since, "isoformat") else since
    if until:
        params["until"] = until.isoformat() if hasattr(until, "isoformat") else until
    window = parse_window(params, actor)
    return _save_report(
        workspace_id=workspace_id,
        kind="on_demand",
        since=window.since,
        until=window.until,
        created_by=actor.user,
    )


def _save_report(*, workspace_id: int, kind: str, since, until, created_by=None):
    from django.db import transaction

    from analytics.models import Report
    from analytics.signals import report_ready

    summary, found = _report_contents(workspace_id, since, until)
    with transaction.atomic():
        if kind == "weekly":
            report, created = Report.objects.get_or_create(
                workspace_id=workspace_id,
                kind=kind,
                period_start=since,
                defaults={
                    "period_end": until,
                    "summary": json_safe(summary),
                    "insights": json_safe(found),
                },
            )
            if not created:
                return report
        else:
            report = Report.objects.create(
                workspace_id=workspace_id,
                kind=kind,
                period_start=since,
                period_end=until,
                summary=json_safe(summary),
                insights=json_safe(found),
                created_by=created_by,
            )
        transaction.on_commit(lambda: _announce(report_ready, Report, report))
    return report


def _announce(signal, sender, report) -> None:
    """Send `report_ready`; a receiver's failure never breaks the report, but it is logged
    with its traceback (send_robust alone would drop it silently)."""
    for receiver, result in signal.send_robust(sender=sender, report=report):
        if isinstance(result, Exception):
            logger.error(
                "report_ready receiver %r failed for report %s",
                receiver,
                report.pk,
                exc_info=(type(result), result, result.__traceback__),
            )


def last_week(now=None):
    """[Monday 00:00 UTC a week ago, this Monday 00:00 UTC)."""
    from datetime import timedelta

    now = now or timezone.now()
    monday = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return monday - timedelta(days=7), monday


def weekly_reports(*, now=None) -> list[int]:
    """The beat job: last week's report for every workspace that ran something in it (once
    per workspace and week, however often it runs). Returns the reports' ids."""
    from workflows import selectors as wf_selectors

    since, until = last_week(now)
    from accounts.models import Workspace

    active = (
        wf_selectors.runs_in_workspaces(Workspace.objects.values_list("id", flat=True))
        .filter(created_at__gte=since, created_at__lt=until)
        .values_list("workspace_id", flat=True)
        .distinct()
    )
    return [
        _save_report(workspace_id=ws, kind="weekly", since=since, until=until).pk
        for ws in sorted(set(active))
    ]


def report_rows(report) -> list[tuple[str, str, object]]:
    """The report as (section, name, value) rows, for CSV: every number of the summary by
    its path, then each insight's kind, severity, title and evidence."""
    rows: list[tuple[str, str, object]] = [
        ("report", "workspace", report.workspace_id),
        ("report", "kind", report.kind),
        ("report", "period_start", report.period_start.isoformat()),
        ("report", "period_end", report.period_end.isoformat()),
    ]

    def walk(section: str, path: str, value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(section, f"{path}.{key}" if path else str(key), item)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(section, f"{path}[{i}]", item)
        else:
            rows.append((section, path, value))

    walk("summary", "", {k: v for k, v in report.summary.items() if k != "window"})
    for i, insight in enumerate(report.insights):
        walk("insight", f"[{i}]", insight)
    return rows
