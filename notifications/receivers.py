"""Where other apps' events reach the rules. Each source is a signal of its own app, so no
app imports notifications; the optional ones (audit, analytics) connect when installed, and an
installed app without the signal we expect stops start-up (a renamed signal must not silently
turn a rule off)."""

import logging
from importlib import import_module

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db.models.signals import post_delete, post_save

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


def _budget_or_rule_changed(sender, instance, **kwargs) -> None:
    from notifications import rules

    rules.forget_budget_watch(instance.workspace_id)


def _security_alert(sender, alert, **kwargs) -> None:
    from notifications import rules

    rules.security_alert(alert)


def _report_ready(sender, report, **kwargs) -> None:
    """analytics.signals.report_ready: sent after the report's transaction commits, with
    `report` (an analytics Report)."""
    from notifications import rules

    rules.report_ready(report)


# Signals of apps notifications works without: (app, module, signal name).
OPTIONAL_SIGNALS = {
    "security_alert": ("audit", "audit.signals", "security_alert_raised"),
    "report_ready": ("analytics", "analytics.signals", "report_ready"),
}


def _optional(app: str, module: str, name: str):
    """The signal `module.name` when `app` is installed (None when it is not); an installed
    app that lacks it is a configuration error, raised, not skipped."""
    if not apps.is_installed(app):
        return None
    try:
        return getattr(import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ImproperlyConfigured(
            f"notifications listens to {module}.{name}, which the installed app {app!r} "
            f"does not define ({exc})."
        ) from exc


def connect_all() -> None:
    from ai.signals import usage_recorded
    from notifications.models import Rule
    from tasks.signals import task_finished
    from workflows.models import Budget
    from workflows.signals import run_event

    run_event.connect(_run_event, dispatch_uid="notifications.run_event")
    task_finished.connect(_task_finished, dispatch_uid="notifications.task_finished")
    usage_recorded.connect(_usage_recorded, dispatch_uid="notifications.usage_recorded")
    for model in (Budget, Rule):  # whether spend is watched for budget rules (rules.py)
        for signal in (post_save, post_delete):
            signal.connect(
                _budget_or_rule_changed,
                sender=model,
                dispatch_uid=f"notifications.budget_watch.{model.__name__}.{signal}",
            )
    if (signal := _optional(*OPTIONAL_SIGNALS["security_alert"])) is not None:
        signal.connect(_security_alert, dispatch_uid="notifications.security_alert")
    if (signal := _optional(*OPTIONAL_SIGNALS["report_ready"])) is not None:
        signal.connect(_report_ready, dispatch_uid="notifications.report_ready")
