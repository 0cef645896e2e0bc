"""Rules: "when X happens in the workspace, notify Y on channel Z". Other apps' events arrive
through `emit` (see receivers.py), which waits for their transaction to commit, so nothing
is sent for a change that was rolled back and no step's transaction pays for a send."""

import logging
import time
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q

from accounts.models import Membership, Role, Workspace
from config.errors import DomainError
from notifications import services
from notifications.defaults import TEMPLATE_FOR_EVENT
from notifications.models import ChannelKind, EventType, FiredEvent, Rule

logger = logging.getLogger(__name__)
USER_ADDRESSED = (ChannelKind.EMAIL, ChannelKind.SMS, ChannelKind.IN_APP)


def emit(event: str, *, workspace_id: int, context: dict, workflow_id: int | None = None) -> None:
    """Fire `event`'s rules once the current transaction commits (now, outside one)."""
    transaction.on_commit(
        partial(_fire_safely, event, workspace_id, context, workflow_id), robust=True
    )


def _fire_safely(event, workspace_id, context, workflow_id) -> None:
    try:
        fire(event, workspace_id=workspace_id, context=context, workflow_id=workflow_id)
    except Exception:  # a notification problem never breaks the caller
        logger.exception("notification rules failed", extra={"event": event})


def default_recipients(workspace_id: int) -> list[str]:
    """The workspace's owners and admins, for user-addressed rules without recipients."""
    ids = Membership.objects.filter(
        workspace_id=workspace_id, role__in=[Role.OWNER, Role.ADMIN]
    ).values_list("user_id", flat=True)
    return [f"user:{pk}" for pk in ids]


def fire(event: str, *, workspace_id: int, context: dict, workflow_id: int | None = None) -> list:
    """Send a notification for each active rule of `event` in the workspace."""
    rules = Rule.objects.filter(workspace_id=workspace_id, event=event, is_active=True)
    rules = rules.filter(Q(workflow__isnull=True) | Q(workflow_id=workflow_id))
    sent = []
    for rule in rules.select_related("workspace", "channel"):
        recipients = list(rule.recipients or [])
        if not recipients and rule.channel_kind in USER_ADDRESSED:
            recipients = default_recipients(workspace_id)
        try:
            plan = services.prepare(
                workspace=rule.workspace,
                channel=rule.channel_kind,
                channel_id=rule.channel_id,
                recipients=recipients,
                template=rule.template or TEMPLATE_FOR_EVENT[event],
                context=context,
                priority=rule.priority,
                data=context.get("links") or {},
                event=event,
                rule=rule,
            )
            sent.append(services.send_system(plan))
        except DomainError as exc:
            logger.warning(
                "rule %s could not notify: %s", rule.pk, exc.message, extra={"event": event}
            )
    return sent


def _workspace_context(workspace_id: int) -> dict:
    name = Workspace.objects.filter(pk=workspace_id).values_list("name", flat=True).first()
    return {"id": workspace_id, "name": name or ""}


# --- Event sources -----------------------------------------------------------------------


def run_event(event: str, data: dict) -> None:
    """From the engine's run.* events (already after commit)."""
    from workflows.models import Workflow

    mapping = {
        "run.failed": EventType.RUN_FAILED,
        "run.succeeded": EventType.RUN_SUCCEEDED,
        "run.waiting": EventType.RUN_WAITING,
    }
    if event not in mapping or not data.get("workspace_id"):
        return
    if not Rule.objects.filter(
        workspace_id=data["workspace_id"], event=mapping[event], is_active=True
    ).exists():
        return  # the common case: one cheap query on the engine's after-commit path
    name = Workflow.objects.filter(pk=data.get("workflow_id")).values_list("name", flat=True)
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    context = {
        "run": {
            "id": data.get("run_id"),
            "status": data.get("status"),
            "error": data.get("error") or "",
            "error_code": data.get("error_code") or "",
            "cost": str(data.get("cost") or 0),
        },
        "workflow": {"id": data.get("workflow_id"), "name": name.first() or ""},
        "workspace": _workspace_context(data["workspace_id"]),
        "links": {"url": f"{base}/api/v3/workflows/runs/{data.get('run_id')}/"},
    }
    emit(
        mapping[event],
        workspace_id=data["workspace_id"],
        context=context,
        workflow_id=data.get("workflow_id"),
    )


def task_event(data: dict) -> None:
    if not data.get("workspace_id"):
        return
    emit(
        EventType.TASK_FAILED,
        workspace_id=data["workspace_id"],
        context={
            "task": {
                "id": data.get("id"),
                "name": data.get("name") or data.get("task_type"),
                "task_type": data.get("task_type"),
                "status": data.get("status"),
                "error": data.get("error") or "",
            },
            "workspace": _workspace_context(data["workspace_id"]),
        },
    )


def security_alert(alert) -> None:
    workspace_id = getattr(alert, "workspace_id", None)
    if workspace_id is None and getattr(alert, "user_id", None):
        workspace_id = (
            Workspace.objects.filter(created_by_id=alert.user_id, is_personal=True)
            .values_list("pk", flat=True)
            .first()
        )
    if workspace_id is None:
        return
    emit(
        EventType.SECURITY_ALERT,
        workspace_id=workspace_id,
        context={
            "alert": {
                "id": alert.pk,
                "title": alert.title,
                "severity": alert.severity,
                "rule": getattr(alert, "rule", ""),
            },
            "workspace": _workspace_context(workspace_id),
        },
    )


def _report_context(report) -> dict:
    """Plain data of an analytics Report for the templates: its period, headline figures,
    insight titles and where to fetch it (JSON and CSV)."""
    summary = report.summary or {}
    runs = summary.get("runs") or {}
    rate = runs.get("success_rate")
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    url = f"{base}/api/v3/advanced/analytics/reports/{report.pk}/"
    return {
        "id": report.pk,
        "kind": report.kind,
        "label": "weekly report" if report.kind == "weekly" else "analytics report",
        "period_start": f"{report.period_start:%Y-%m-%d %H:%M} UTC",
        "period_end": f"{report.period_end:%Y-%m-%d %H:%M} UTC",
        "runs": runs.get("total", 0),
        "failed": (runs.get("by_status") or {}).get("failed", 0),
        "success_rate": "n/a" if rate is None else f"{rate * 100:.1f}%",
        "tokens": (summary.get("tokens") or {}).get("total", 0),
        "cost": str(summary.get("cost") or 0),
        "insights": [
            {"title": str(i.get("title", "")), "severity": str(i.get("severity", ""))}
            for i in (report.insights or [])[:10]
            if isinstance(i, dict)
        ],
        "url": url,
        "csv_url": f"{url}csv/",
    }


def report_ready(report) -> None:
    """From analytics' report_ready (weekly by beat, or made on demand): the workspace's
    "report ready" rules, with the report's figures in the context."""
    context = {
        "workspace": _workspace_context(report.workspace_id),
        "report": _report_context(report),
    }
    context["links"] = {"url": context["report"]["url"]}
    emit(EventType.WEEKLY_REPORT, workspace_id=report.workspace_id, context=context)


def _once(key: str) -> bool:
    try:
        with transaction.atomic():
            FiredEvent.objects.create(key=key)
        return True
    except IntegrityError:
        return False


def budget_check(workspace_id: int) -> None:
    """After spend is recorded: budget.80 / budget.100, once per month, limit and level."""
    if budget_watched(workspace_id):
        transaction.on_commit(partial(_budget_check_safely, workspace_id), robust=True)


BUDGET_WATCH_SECONDS = 300
BUDGET_WATCH_LOCAL_SECONDS = 5
# cache key -> (watched, until when, monotonic): this process's copy of the cached answer.
_local_watch: dict[str, tuple[bool, float]] = {}
_BUDGET_RULES = [EventType.BUDGET_80, EventType.BUDGET_100]


def _budget_watch_key(workspace_id: int) -> str:
    return f"{settings.NOTIFICATIONS_CACHE_PREFIX}:budget-watch:{workspace_id}"


def budget_watched(workspace_id: int) -> bool:
    """Whether spend can fire a budget rule in the workspace: a budget with a limit and an
    active budget rule. Asked after every model call (each engine step), so kept in the cache
    and forgotten whenever a budget or a rule changes (`forget_budget_watch`); without the
    cache, asked of the database. Each process also keeps the answer for
    BUDGET_WATCH_LOCAL_SECONDS (a Redis read per step was 6% of an engine step): a rule made
    in another process is seen that much later, and the alert, which compares the month's
    spend so far with the limit, fires on the next step after that."""
    now = time.monotonic()
    key = _budget_watch_key(workspace_id)
    known = _local_watch.get(key)
    if known is not None and known[1] > now:
        return known[0]
    try:
        watched = cache.get(key)
    except Exception:
        watched = None
    if watched is None:
        watched = _budget_watched_now(workspace_id)
        try:
            cache.set(key, watched, BUDGET_WATCH_SECONDS)
        except Exception:
            logger.warning("budget watch not cached", exc_info=True)
    _local_watch[key] = (watched, now + BUDGET_WATCH_LOCAL_SECONDS)
    return watched


def _budget_watched_now(workspace_id: int) -> bool:
    from workflows.models import Budget

    limited = Q(monthly_cost_limit__isnull=False) | Q(monthly_token_limit__isnull=False)
    return (
        Budget.objects.filter(limited, workspace_id=workspace_id).exists()
        and Rule.objects.filter(
            workspace_id=workspace_id, event__in=_BUDGET_RULES, is_active=True
        ).exists()
    )


def forget_budget_watch(workspace_id: int) -> None:
    """A budget or a rule of the workspace changed: ask again (after the change commits, so
    no reader caches what it replaces)."""

    def forget():
        key = _budget_watch_key(workspace_id)
        _local_watch.pop(key, None)
        try:
            cache.delete(key)
        except Exception:
            logger.warning("budget watch not forgotten", exc_info=True)

    transaction.on_commit(forget, robust=True)


def _budget_check_safely(workspace_id: int) -> None:
    try:
        check_budget_now(workspace_id)
    except Exception:
        logger.exception("budget notification check failed")


def check_budget_now(workspace_id: int) -> list[str]:
    from workflows.models import Budget
    from workflows.selectors import month_to_date

    budget = Budget.objects.filter(workspace_id=workspace_id).select_related("workspace").first()
    if budget is None or (budget.monthly_cost_limit is None and budget.monthly_token_limit is None):
        return []
    if not Rule.objects.filter(
        workspace_id=workspace_id, event__in=_BUDGET_RULES, is_active=True
    ).exists():
        return []
    used = month_to_date(budget.workspace)
    month = datetime.now(tz=UTC).strftime("%Y-%m")
    fired = []
    for kind, limit, spent in (
        ("cost", budget.monthly_cost_limit, Decimal(str(used["cost"]))),
        ("tokens", budget.monthly_token_limit, Decimal(int(used["tokens"]))),
    ):
        if not limit:
            continue
        percent = spent * 100 / Decimal(str(limit))
        for level, event in ((100, EventType.BUDGET_100), (80, EventType.BUDGET_80)):
            if percent < level:
                continue
            # Reaching 100% first also closes 80% for the month: one alert, the worse one.
            keys = [
                f"budget:{workspace_id}:{month}:{kind}:{lvl}" for lvl in (100, 80) if lvl <= level
            ]
            if not _once(keys[0]):
                break
            for key in keys[1:]:
                _once(key)
            emit(
                event,
                workspace_id=workspace_id,
                context={
                    "workspace": _workspace_context(workspace_id),
                    "budget": {
                        "kind": kind,
                        "limit": str(limit),
                        "used": str(spent if kind == "tokens" else round(spent, 4)),
                        "percent": int(percent),
                    },
                },
            )
            fired.append(event)
            break
    return fired
