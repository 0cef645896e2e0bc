"""Threat rules: code that turns security events into alerts. Thresholds are settings
(README "Audit and security"). Each rule looks at the event just recorded (and, when it must
count, at recent rows) and raises at most one alert per subject per window.

| rule                 | fires when                                                    |
|----------------------|---------------------------------------------------------------|
| failed_logins        | ALERT_FAILED_LOGINS failed logins (or lockout refusals) for one |
|                      | account within ALERT_FAILED_LOGINS_MINUTES                     |
| credential_stuffing  | failed logins for ALERT_STUFFING_ACCOUNTS different usernames   |
|                      | from one IP within ALERT_STUFFING_MINUTES                       |
| api_key_new_ip       | an API key is used from an IP it never used (apikey.used_new_ip)|
| probe_burst          | ALERT_PROBE_BURST 404s on ids outside the caller's workspaces   |
|                      | within one counting window                                      |
| privilege_escalation | someone is made owner or admin (added or role changed)          |
| login_after_lockout  | a login succeeds within ALERT_LOGIN_AFTER_LOCKOUT_MINUTES of a  |
|                      | lockout of that account                                         |
| mass_deletion        | ALERT_MASS_DELETION deletions by one actor within              |
|                      | ALERT_MASS_DELETION_MINUTES (change log; `audit.rules.on_change`)|
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q

from audit.alerts import raise_alert
from audit.events import SecurityEventKind as K
from audit.events import Severity
from audit.models import AuditLogEntry, SecurityEvent

FAILED_LOGIN_KINDS = (K.LOGIN_FAILED, K.LOCKED_OUT)
PRIVILEGED_ROLES = ("owner", "admin")


def _bucket(at, minutes: int) -> int:
    return int(at.timestamp() // (minutes * 60))


def failed_logins(event: SecurityEvent, count: int) -> None:
    if event.kind not in FAILED_LOGIN_KINDS or not (event.user_id or event.username):
        return
    minutes = settings.ALERT_FAILED_LOGINS_MINUTES
    since = event.created_at - timedelta(minutes=minutes)
    subject = Q(user_id=event.user_id) if event.user_id else Q(username=event.username)
    recent = SecurityEvent.objects.filter(
        subject, kind__in=FAILED_LOGIN_KINDS, created_at__gte=since
    )
    failures = recent.count()
    if failures < settings.ALERT_FAILED_LOGINS:
        return
    who = f"user:{event.user_id}" if event.user_id else f"username:{event.username}"
    raise_alert(
        rule="failed_logins",
        severity=Severity.HIGH,
        title=f"{failures} failed logins for {event.username or who} in {minutes} minutes",
        dedup_key=f"failed_logins:{who}:{_bucket(event.created_at, minutes)}",
        evidence={
            "failed_logins": failures,
            "minutes": minutes,
            "username": event.username,
            "ips": sorted({ip for ip in recent.values_list("ip", flat=True) if ip}),
            "event_ids": list(recent.order_by("-id").values_list("id", flat=True)[:20]),
        },
        user_id=event.user_id,
        ip=event.ip,
        at=event.created_at,
    )


def credential_stuffing(event: SecurityEvent, count: int) -> None:
    if event.kind != K.LOGIN_FAILED or not event.ip:
        return
    minutes = settings.ALERT_STUFFING_MINUTES
    since = event.created_at - timedelta(minutes=minutes)
    usernames = set(
        SecurityEvent.objects.filter(
            ip=event.ip, kind=K.LOGIN_FAILED, created_at__gte=since
        ).values_list("username", flat=True)
    )
    if len(usernames) < settings.ALERT_STUFFING_ACCOUNTS:
        return
    raise_alert(
        rule="credential_stuffing",
        severity=Severity.CRITICAL,
        title=f"Failed logins for {len(usernames)} accounts from {event.ip} in {minutes} minutes",
        dedup_key=f"credential_stuffing:{event.ip}:{_bucket(event.created_at, minutes)}",
        evidence={"ip": event.ip, "usernames": sorted(usernames)[:50], "minutes": minutes},
        ip=event.ip,
        at=event.created_at,
    )


def api_key_new_ip(event: SecurityEvent, count: int) -> None:
    if event.kind != K.APIKEY_USED_NEW_IP or event.details.get("first_use"):
        return
    prefix = event.details.get("prefix", "")
    ip = event.details.get("ip") or event.ip  # the key's address (a WebSocket has no request)
    raise_alert(
        rule="api_key_new_ip",
        severity=Severity.WARNING,
        title=f"API key {prefix} used from a new IP {ip}",
        dedup_key=f"api_key_new_ip:{prefix}:{ip}",
        evidence={"prefix": prefix, "ip": ip, "event_id": event.pk},
        user_id=event.user_id,
        workspace_id=event.workspace_id,
        ip=ip,
        at=event.created_at,
    )


def probe_burst(event: SecurityEvent, count: int) -> None:
    if event.kind != K.ACCESS_CROSS_WORKSPACE_PROBE or count < settings.ALERT_PROBE_BURST:
        return
    who = f"user:{event.actor_id}" if event.actor_id else f"ip:{event.ip}"
    window = _bucket(event.created_at, max(1, settings.AUDIT_COUNT_WINDOW_SECONDS // 60))
    raise_alert(
        rule="probe_burst",
        severity=Severity.HIGH,
        title=f"{count} requests for other workspaces' objects by {event.username or who}",
        dedup_key=f"probe_burst:{who}:{window}",
        evidence={
            "count": count,
            "window_seconds": settings.AUDIT_COUNT_WINDOW_SECONDS,
            "paths": event.details.get("paths") or [event.details.get("path")],
        },
        user_id=event.actor_id,
        ip=event.ip,
        at=event.created_at,
    )


def privilege_escalation(event: SecurityEvent, count: int) -> None:
    if event.kind not in (K.MEMBER_ADDED, K.MEMBER_ROLE_CHANGED):
        return
    role = event.details.get("role")
    if role not in PRIVILEGED_ROLES or event.details.get("old_role") in PRIVILEGED_ROLES:
        return
    member = event.details.get("member_id")
    raise_alert(
        rule="privilege_escalation",
        severity=Severity.HIGH,
        title=f"{event.details.get('member', member)} was made {role} by {event.username}",
        dedup_key=f"privilege_escalation:event:{event.pk}",
        evidence={
            "member_id": member,
            "role": role,
            "old_role": event.details.get("old_role"),
            "by": event.actor_id,
            "event_id": event.pk,
        },
        user_id=member,
        workspace_id=event.workspace_id,
        ip=event.ip,
        at=event.created_at,
    )


def login_after_lockout(event: SecurityEvent, count: int) -> None:
    if event.kind != K.LOGIN_SUCCEEDED or event.user_id is None:
        return
    since = event.created_at - timedelta(minutes=settings.ALERT_LOGIN_AFTER_LOCKOUT_MINUTES)
    lockout = (
        SecurityEvent.objects.filter(
            user_id=event.user_id, kind=K.LOCKED_OUT, created_at__gte=since
        )
        .order_by("-created_at")
        .first()
    )
    if lockout is None:
        return
    raise_alert(
        rule="login_after_lockout",
        severity=Severity.HIGH,
        title=f"{event.username} logged in right after a lockout",
        dedup_key=f"login_after_lockout:lockout:{lockout.pk}",
        evidence={"lockout_event_id": lockout.pk, "login_event_id": event.pk, "ip": event.ip},
        user_id=event.user_id,
        ip=event.ip,
        at=event.created_at,
    )


# Each rule and the kinds it watches (each rule also checks its kind itself).
EVENT_RULES = (
    (failed_logins, FAILED_LOGIN_KINDS),
    (credential_stuffing, (K.LOGIN_FAILED,)),
    (api_key_new_ip, (K.APIKEY_USED_NEW_IP,)),
    (probe_burst, (K.ACCESS_CROSS_WORKSPACE_PROBE,)),
    (privilege_escalation, (K.MEMBER_ADDED, K.MEMBER_ROLE_CHANGED)),
    (login_after_lockout, (K.LOGIN_SUCCEEDED,)),
)
WATCHED_KINDS = frozenset(kind for _rule, kinds in EVENT_RULES for kind in kinds)


def watched(kind: str) -> bool:
    """Whether any rule looks at events of this kind: most kinds need no rule query at all."""
    return kind in WATCHED_KINDS


def evaluate(event: SecurityEvent, *, count: int = 1) -> None:
    for rule, kinds in EVENT_RULES:
        if event.kind in kinds:
            rule(event, count)


def on_change_safely(entry: AuditLogEntry) -> None:
    """`on_change`, never failing the change it watches."""
    import logging

    from django.db import transaction

    try:
        with transaction.atomic():
            on_change(entry)
    except Exception:
        logging.getLogger(__name__).exception("audit: change rules failed")


def on_change(entry: AuditLogEntry) -> None:
    """Rules over the change log (called for each new row)."""
    if entry.action != AuditLogEntry.Action.DELETE or entry.actor_id is None:
        return
    minutes = settings.ALERT_MASS_DELETION_MINUTES
    since = entry.timestamp - timedelta(minutes=minutes)
    deletions = AuditLogEntry.objects.filter(
        actor_id=entry.actor_id, action=AuditLogEntry.Action.DELETE, timestamp__gte=since
    ).count()
    if deletions < settings.ALERT_MASS_DELETION:
        return
    raise_alert(
        rule="mass_deletion",
        severity=Severity.HIGH,
        title=f"{deletions} deletions by one user in {minutes} minutes",
        dedup_key=f"mass_deletion:user:{entry.actor_id}:{_bucket(entry.timestamp, minutes)}",
        evidence={"deletions": deletions, "minutes": minutes, "actor": entry.actor_id},
        user_id=entry.actor_id,
        workspace_id=entry.workspace_id,
        at=entry.timestamp,
    )
