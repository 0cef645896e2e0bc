"""Raising security alerts: stored once per rule, subject and window, then pushed over
WebSocket (`security.alert`) to the affected user and the workspace's owners and admins, and
handed to notifications through `audit.signals.security_alert_raised`, after commit."""

import logging
from datetime import datetime

from django.apps import apps
from django.db import IntegrityError, transaction

from audit.models import SecurityAlert
from audit.signals import security_alert_raised

logger = logging.getLogger(__name__)

ALERT_EVENT = "security.alert"
ALERT_AUDIENCE_ROLES = ("owner", "admin")


def raise_alert(
    *,
    rule: str,
    severity: str,
    title: str,
    dedup_key: str,
    evidence: dict,
    user_id: int | None = None,
    workspace_id: int | None = None,
    ip: str | None = None,
    at: datetime | None = None,
) -> SecurityAlert | None:
    """Store the alert unless this rule already raised one for `dedup_key`; the new alert,
    or None."""
    fields = dict(
        rule=rule,
        severity=severity,
        title=title[:200],
        evidence=evidence,
        user_id=user_id,
        workspace_id=workspace_id,
        ip=ip,
        dedup_key=dedup_key[:200],
    )
    if at is not None:
        fields["created_at"] = at
    try:
        with transaction.atomic():
            if SecurityAlert.objects.filter(dedup_key=fields["dedup_key"]).exists():
                return None
            alert = SecurityAlert.objects.create(**fields)
    except IntegrityError:  # raised at the same moment by another process
        return None
    transaction.on_commit(lambda: announce(alert))
    return alert


def audience(alert: SecurityAlert) -> list[int]:
    """The users who hear of an alert: its user, and its workspace's owners and admins."""
    user_ids = [alert.user_id] if alert.user_id else []
    if alert.workspace_id:
        Membership = apps.get_model("accounts", "Membership")
        user_ids += Membership.objects.filter(
            workspace_id=alert.workspace_id, role__in=ALERT_AUDIENCE_ROLES
        ).values_list("user_id", flat=True)
    return list(dict.fromkeys(user_ids))


def payload(alert: SecurityAlert) -> dict:
    return {
        "id": alert.pk,
        "rule": alert.rule,
        "severity": alert.severity,
        "title": alert.title,
        "evidence": alert.evidence,
        "user": alert.user_id,
        "workspace": alert.workspace_id,
        "ip": alert.ip,
        "status": alert.status,
        "created_at": alert.created_at,
    }


def announce(alert: SecurityAlert) -> None:
    from realtime.events import publish
    from realtime.groups import user_group

    try:
        groups = [user_group(user_id) for user_id in audience(alert)]
        if groups:
            publish(ALERT_EVENT, payload(alert), groups=groups)
    except Exception:
        logger.exception("audit: could not push alert %s", alert.pk)
    for receiver, result in security_alert_raised.send_robust(sender=SecurityAlert, alert=alert):
        if isinstance(result, Exception):
            logger.error("audit: alert receiver %r failed: %r", receiver, result)
