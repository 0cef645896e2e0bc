"""The audit app's verbs. Every app may call them (audit imports no domain app).

- `record_security_event`: a security event; never raises, never fails the caller's request.
- `record_change`: a change-log row for writes that bypass the ORM (the engine's SQL), written
  in the caller's transaction, so the change and its audit row commit or roll back together.
- `record_changes`: the same rows for many objects at once, in one insert (bulk verbs).
"""

import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import pre_save
from django.utils import timezone

from audit import chain
from audit.context import acting_user, current_request, current_user, request_remote_addr
from audit.events import (
    DEFAULT_SEVERITY,
    HIGH_VOLUME_KINDS,
    USERNAME_KINDS,
    SecurityEventKind,
    Severity,
)
from audit.models import AuditLogEntry, SecurityEvent
from config.client_ip import client_ip

logger = logging.getLogger(__name__)

USER_AGENT_MAX = 300


def _pk(value) -> int | None:
    if value is None or isinstance(value, int):
        return value
    return value.pk


def _request_actor(request):
    try:
        user = getattr(request, "user", None)
    except Exception:  # DRF re-raises an authentication failure on access
        return None
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _request_id(request) -> str:
    bound = structlog.contextvars.get_contextvars().get("request_id")
    if bound:
        return str(bound)[:64]
    if request is not None:
        return (getattr(request, "headers", {}).get("X-Request-ID") or "")[:64]
    return ""


def _subject_id(kind: str, actor_id: int | None, username: str) -> int | None:
    """The account the event concerns: the actor, or the account the username tried names."""
    if actor_id is not None or kind not in USERNAME_KINDS or not username:
        return actor_id
    User = get_user_model()
    return (
        User._default_manager.filter(**{User.USERNAME_FIELD: username})
        .values_list("pk", flat=True)
        .first()
    )


def record_security_event(
    kind: str,
    *,
    request=None,
    actor=None,
    username: str = "",
    workspace=None,
    severity: str | None = None,
    details: dict | None = None,
) -> None:
    """Record a security event (kinds: `audit.events.SecurityEventKind`). Never raises: a
    failure is logged and the caller's request goes on as if nothing happened."""
    if not settings.AUDIT_ENABLED:
        return
    try:
        _record_security_event(
            kind,
            request=request,
            actor=actor,
            username=username,
            workspace=workspace,
            severity=severity,
            details=details,
        )
    except Exception:
        logger.exception("audit: could not record security event %s", kind)


def _record_security_event(kind, *, request, actor, username, workspace, severity, details):
    kind = SecurityEventKind(kind).value  # an unknown kind is a bug in the caller: logged
    if severity is None:
        severity = DEFAULT_SEVERITY[kind]
    severity = Severity(severity).value
    if request is None:
        request = current_request()  # a service called from a view: that view's request
    if actor is None and request is not None:
        actor = _request_actor(request)
    actor_id = _pk(actor)
    username = (username or (getattr(actor, "get_username", lambda: "")() if actor else ""))[:150]
    ip = client_ip(request) if request is not None else None
    meta = getattr(request, "META", None) or {}
    event = SecurityEvent(
        kind=kind,
        severity=severity,
        actor_id=actor_id,
        username=username,
        workspace_id=_pk(workspace),
        ip=ip,
        user_agent=meta.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX],
        request_id=_request_id(request),
        details=dict(details or {}),
        created_at=timezone.now(),
    )
    count = 1
    if kind in HIGH_VOLUME_KINDS:
        window = _Window(kind, actor_id=actor_id, ip=ip)
        count = window.hit()
        if count > 1:
            window.flush_count(count)
            _evaluate_rules(event, count=count)
            return
        event.details.update(window.describe())
    event.user_id = _subject_id(kind, actor_id, username)
    event.chain = chain.chain_for(workspace_id=event.workspace_id, user_id=event.user_id)
    chain.append(event)  # in a savepoint: an error here rolls back only the event
    if kind in HIGH_VOLUME_KINDS:
        window.remember_row(event.pk)
    _evaluate_rules(event, count=count)


def _evaluate_rules(event: SecurityEvent, *, count: int) -> None:
    from audit import rules

    if not rules.watched(event.kind):
        return  # no savepoint (on its own, a transaction: a round trip) for nothing
    try:
        with transaction.atomic():
            rules.evaluate(event, count=count)
    except Exception:
        logger.exception("audit: threat rules failed on %s", event.kind)


class _Window:
    """The per-window tally of a high-volume kind for one actor (or IP), in Redis: the first
    hit of a window writes the row; later hits only count, and the row's `count` is brought up
    to date at most every AUDIT_COUNT_FLUSH_SECONDS. Each window with a row is also listed in
    a sorted set by its end, so `flush_closed_windows` (a beat job) writes the final count of
    a window whose last hits came after its last flush."""

    def __init__(self, kind: str, *, actor_id: int | None, ip: str | None):
        self.seconds = settings.AUDIT_COUNT_WINDOW_SECONDS
        self.start = int(time.time() // self.seconds * self.seconds)
        who = f"user:{actor_id}" if actor_id is not None else f"ip:{ip or '-'}"
        self.key = f"{settings.AUDIT_CACHE_PREFIX}:window:{kind}:{who}:{self.start}"

    def hit(self) -> int:
        if cache.add(self.key, 1, timeout=self.seconds * 2):
            return 1
        try:
            return cache.incr(self.key)
        except ValueError:  # expired between add and incr
            cache.add(self.key, 1, timeout=self.seconds * 2)
            return 1

    def describe(self) -> dict:
        return {"window_start": self.start, "window_seconds": self.seconds}

    def remember_row(self, row_id: int) -> None:
        cache.set(f"{self.key}:row", row_id, timeout=self.seconds * 2)
        _open_windows().zadd(_open_windows_key(), {self.key: self.start + self.seconds})

    def flush_count(self, count: int) -> None:
        every = settings.AUDIT_COUNT_FLUSH_SECONDS
        if every > 0 and not cache.add(f"{self.key}:flush", 1, timeout=every):
            return
        _write_count(cache.get(f"{self.key}:row"), count)


def _write_count(row_id: int | None, count: int | None) -> int:
    if row_id is None or count is None:
        return 0
    return SecurityEvent.objects.filter(pk=row_id, count__lt=count).update(count=count)


def _open_windows():
    return _redis(settings.REDIS_URL)


@functools.lru_cache(maxsize=4)
def _redis(url: str):
    import redis

    return redis.Redis.from_url(url)


def _open_windows_key() -> str:
    return f"{settings.AUDIT_CACHE_PREFIX}:open-windows"


def flush_closed_windows(*, now: float | None = None) -> int:
    """Write the final count of every window that has ended (the beat job `audit.flush_counts`):
    the hits after a window's last flush would otherwise never reach its row. Returns the
    number of rows brought up to date."""
    client, key = _open_windows(), _open_windows_key()
    ended = client.zrangebyscore(key, "-inf", now if now is not None else time.time())
    updated = 0
    for window in ended:
        window = window.decode()
        updated += _write_count(cache.get(f"{window}:row"), cache.get(window))
        client.zrem(key, window)
    return updated


def record_change(
    *,
    model: str,
    object_id,
    event: str,
    workspace=None,
    actor=None,
    object_repr: str = "",
    changes: dict | None = None,
    details: dict | None = None,
    action: int = AuditLogEntry.Action.UPDATE,
) -> AuditLogEntry | None:
    """A change-log row for a write the ORM did not see (`model` is "app_label.Model"),
    written in the caller's transaction. `event` names what happened ("run.approved"). The
    actor defaults to the one `audit.context.acting_for` names. Raises on failure, so the
    change it describes rolls back with it rather than going unaudited."""
    if not settings.AUDIT_ENABLED:
        return None
    change = Change(
        object_id=object_id,
        workspace=workspace,
        object_repr=object_repr,
        changes=changes,
        details=details,
    )
    entry = _change_entry(
        model, event, change, _default_actor(actor), action, request_remote_addr()
    )
    entry.save(force_insert=True)
    return entry


@dataclass(frozen=True)
class Change:
    """One object's part of `record_changes`: what `record_change` takes per object."""

    object_id: Any
    workspace: Any = None
    object_repr: str = ""
    changes: dict | None = None
    details: dict | None = None


def record_changes(
    *,
    model: str,
    event: str,
    items: Sequence[Change],
    actor=None,
    action: int = AuditLogEntry.Action.UPDATE,
) -> list[AuditLogEntry]:
    """`record_change` for many objects of one model at once (a bulk submit of a thousand
    tasks): still one row per object, but linked into their chains under one lock per chain
    and inserted in one statement, where a row at a time costs five round trips each. Rows
    are identical to `record_change`'s; like it, in the caller's transaction, and raises."""
    if not settings.AUDIT_ENABLED or not items:
        return []
    actor = _default_actor(actor)
    remote_addr = request_remote_addr()
    entries = [_change_entry(model, event, c, actor, action, remote_addr) for c in items]
    with transaction.atomic():  # the chains' locks are transaction locks: a savepoint at least
        for entry in entries:
            # What save() would run first: `audit.context.fill_actor` (a job acting for
            # someone) fills the actor and remote address here, before the hash covers them.
            pre_save.send(
                sender=AuditLogEntry,
                instance=entry,
                raw=False,
                using=AuditLogEntry.objects.db,
                update_fields=None,
            )
        chain.link_many(entries)
        AuditLogEntry.objects.bulk_create(entries)
    return entries


def _default_actor(actor):
    if actor is None:  # a job acting for someone, else the request's user, else the system
        actor = acting_user() or current_user()
    return actor


def _change_entry(
    model: str, event: str, change: Change, actor, action: int, remote_addr: str | None
) -> AuditLogEntry:
    content_type = ContentType.objects.get_for_model(apps.get_model(model))  # cached
    object_id = change.object_id
    entry = AuditLogEntry(
        content_type=content_type,
        object_pk=str(object_id),
        object_id=object_id if isinstance(object_id, int) else None,
        object_repr=change.object_repr or f"{content_type.model} {object_id}",
        action=action,
        changes=change.changes,
        actor_id=_pk(actor) if actor is not None and getattr(actor, "pk", actor) else None,
        actor_email=getattr(actor, "email", None),
        remote_addr=remote_addr,
        workspace_id=_pk(change.workspace),
        additional_data={"event": event, **(change.details or {})},
    )
    entry.chain = chain.chain_for(workspace_id=entry.workspace_id, user_id=entry.actor_id)
    return entry


def can_manage_alert(user, alert) -> bool:
    """Owners and admins of the alert's workspace, and staff; an account alert (no workspace)
    also by the user it concerns."""
    if user.is_staff:
        return True
    if alert.workspace_id is None:
        return alert.user_id == user.pk
    Membership = apps.get_model("accounts", "Membership")
    return Membership.objects.filter(
        user=user, workspace_id=alert.workspace_id, role__in=("owner", "admin")
    ).exists()


@transaction.atomic
def acknowledge_alert(*, user, alert_id: int, comment: str):
    """Mark an open alert acknowledged, with who and why. Raises Forbidden (may see, may not
    acknowledge) or AlertAlreadyAcknowledged."""
    from audit.errors import AlertAlreadyAcknowledged
    from audit.events import AlertStatus
    from audit.models import SecurityAlert
    from config.errors import Forbidden

    alert = SecurityAlert.objects.select_for_update().get(pk=alert_id)
    if not can_manage_alert(user, alert):
        raise Forbidden("Only the workspace's owners and admins acknowledge its alerts.")
    if alert.status == AlertStatus.ACKNOWLEDGED:
        raise AlertAlreadyAcknowledged(
            details={"acknowledged_by": alert.acknowledged_by_id, "at": alert.acknowledged_at}
        )
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_by = user
    alert.acknowledged_at = timezone.now()
    alert.comment = comment
    alert.save(update_fields=["status", "acknowledged_by", "acknowledged_at", "comment"])
    return alert


def record_refusal(request, status_code: int, *, view=None) -> None:
    """The API refused a request: 403 access.denied, 429 access.rate_limited, 404 on an object
    id a signed-in caller cannot see access.cross_workspace_probe. Counted per window; never
    raises."""
    try:
        kind = None
        if status_code == 403:
            kind = SecurityEventKind.ACCESS_DENIED
        elif status_code == 429:
            kind = SecurityEventKind.ACCESS_RATE_LIMITED
        elif (
            status_code == 404
            and getattr(view, "kwargs", None)
            and _request_actor(request) is not None
        ):
            # A signed-in caller's 404 on a URL naming an object: it may well be in a
            # workspace they cannot see (reported as "not found" on purpose); a burst of them
            # is a probe (rule `probe_burst`).
            kind = SecurityEventKind.ACCESS_CROSS_WORKSPACE_PROBE
        if kind is None:
            return
        record_security_event(
            kind,
            request=request,
            details={"path": request.path[:300], "method": request.method},
        )
    except Exception:
        logger.exception("audit: could not record a refusal")
