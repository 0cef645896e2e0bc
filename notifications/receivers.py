"""Where other apps' events reach the rules. Each source is a signal of its own app, so no
app imports notifications; the optional ones (audit, analytics) connect when installed."""

import logging
from importlib import import_module

logger = logging.getLogger(__name__)


def _run_event(sender, event: str, data: dict, **kwargs) -> None:
    from notifications import rules

    rules.run_event(event, data)


def _task_finished(sender, data: dict, **kwargs) -> None:
    from notifications import rules

    if data.get("status") in ("failed", "timed_out"):
        rules.task_event(data)


def _usage_recorded(sender, workspace_ids, **kwargs) -> None:
    from notifications import rules

    for workspace_id in set(workspace_ids):
        rules.budget_check(workspace_id)


def _security_alert(sender, alert, **kwargs) -> None:
    from notifications import rules

    rules.security_alert(alert)


def _weekly_report(sender, workspace_id: int, report: dict | None = None, **kwargs) -> None:
    from notifications import rules

    rules.weekly_report(workspace_id=workspace_id, report=report)


def _optional(module: str, name: str):
    try:
        return getattr(import_module(module), name)
    except (ImportError, AttributeError):
        return None


def connect_all() -> None:
    from ai.signals import usage_recorded
    from tasks.signals import task_finished
    from workflows.signals import run_event

    run_event.connect(_run_event, dispatch_uid="notifications.run_event")
    task_finished.connect(_task_finished, dispatch_uid="notifications.task_finished")
    usage_recorded.connect(_usage_recorded, dispatch_uid="notifications.usage_recorded")
    if (signal := _optional("audit.signals", "security_alert_raised")) is not None:
        signal.connect(_security_alert, dispatch_uid="notifications.security_alert")
    if (signal := _optional("analytics.signals", "weekly_report_ready")) is not None:
        signal.connect(_weekly_report, dispatch_uid="notifications.weekly_report")
