"""Sending: the notification and one delivery per recipient written in one transaction
(idempotency keys, rate limits), handed to the workers after it commits; retries."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role, Workspace
from accounts.scoping import Actor, require_role
from notifications import dispatch, ratelimit
from notifications.errors import (
    BulkInvalid,
    DeliveryNotRetryable,
    IdempotencyConflict,
    InvalidNotification,
    NotificationNotFound,
    NotificationRateLimited,
)
from notifications.models import (
    Delivery,
    DeliveryStatus,
    Notification,
)
from notifications.services.planning import Plan, actor_user, prepare

# --- Writing -----------------------------------------------------------------------------


def _existing(plan: Plan) -> Notification | None:
    if not plan.idempotency_key:
        return None
    found = Notification.objects.filter(
        workspace=plan.workspace, idempotency_key=plan.idempotency_key
    ).first()
    if found is None:
        return None
    if (found.channel_kind, found.subject, found.message) != (
        plan.kind,
        plan.subject,
        plan.message,
    ):
        raise IdempotencyConflict(details={"idempotency_key": plan.idempotency_key})
    found.created_now = False
    return found


def _take_allowance(plans: list[Plan], *, strict: bool) -> bool:
    """Spend the plans' sends from the rate limits (one take per channel); False (or raise,
    if strict) when over."""
    by_channel: dict[tuple, list[Plan]] = {}
    for plan in plans:
        by_channel.setdefault((plan.kind, plan.channel.pk if plan.channel else None), []).append(
            plan
        )
    for (kind, channel_id), group in by_channel.items():
        sendable = sum(1 for plan in group for t in plan.targets if not t.skip)
        if not sendable:
            continue
        channel = group[0].channel
        try:
            ratelimit.take(
                workspace_id=group[0].workspace.pk,
                kind=kind,
                channel_id=channel_id,
                limit=ratelimit.channel_limit(
                    kind, channel.rate_limit_per_minute if channel else None
                ),
                count=sendable,
            )
        except NotificationRateLimited:
            if strict:
                raise
            return False
    return True


_SKIP_REASONS = {
    "opted_out": "The address followed an opt-out link.",
    "preference": "The user's preferences leave this channel out for this event.",
}


def _write(plans: list[Plan], actor_user, *, allowed: bool) -> list[Notification]:
    """One INSERT for the notifications and one for their deliveries; the claimable ones go
    to the workers after commit."""
    now = timezone.now()
    notifications, rows = [], []
    for plan in plans:
        notification = Notification(
            workspace=plan.workspace,
            created_by=actor_user,
            channel_kind=plan.kind,
            channel=plan.channel,
            event=plan.event,
            rule=plan.rule,
            template_key=plan.template_key,
            subject=plan.subject,
            message=plan.message,
            html=plan.html,
            data=plan.data,
            priority=plan.priority,
            idempotency_key=plan.idempotency_key,
            created_at=now,
        )
        notification.created_now = True
        notification.delivery_rows = []
        for target in plan.targets:
            row = Delivery(
                notification=notification,
                workspace=plan.workspace,
                channel_kind=plan.kind,
                recipient=target.recipient,
                user=target.user,
                max_attempts=settings.NOTIFICATIONS_MAX_ATTEMPTS,
                next_attempt_at=target.not_before,
                created_at=now,
                updated_at=now,
            )
            if target.skip:
                row.status, row.error_code = DeliveryStatus.SKIPPED, target.skip
                row.error = _SKIP_REASONS.get(target.skip, target.skip)
            elif not allowed:
                row.status, row.error_code = DeliveryStatus.FAILED, "rate_limited"
                row.failed_at = now
                row.error = "The workspace or channel rate limit was reached; not sent."
            notification.delivery_rows.append(row)
            rows.append(row)
        notifications.append(notification)
    Notification.objects.bulk_create(notifications)
    Delivery.objects.bulk_create(rows)
    dispatch.on_commit(rows, priority_of={n.pk: n.priority for n in notifications})
    return notifications


def _raw_allowed(actor: Actor, workspace: Workspace) -> bool:
    role = require_role(actor, workspace, Role.VIEWER)
    from accounts.models import ROLE_RANK

    return ROLE_RANK[role] >= ROLE_RANK[Role.EDITOR]


def send_notification(*, actor: Actor, workspace: Workspace, **fields) -> Notification:
    """Validate, write the notification and one delivery per recipient, and queue them after
    commit. Raw addresses need the editor role; workspace users, any member."""
    raw_allowed = _raw_allowed(actor, workspace)
    plan = prepare(workspace=workspace, raw_allowed=raw_allowed, **fields)
    with transaction.atomic():
        if (existing := _existing(plan)) is not None:
            return existing
        _take_allowance([plan], strict=True)
        try:
            with transaction.atomic():
                return _write([plan], actor_user(actor), allowed=True)[0]
        except IntegrityError:
            if (existing := _existing(plan)) is not None:  # a concurrent twin won
                return existing
            raise


def bulk_send(*, actor: Actor, workspace: Workspace, items: list[dict]) -> list[Notification]:
    """All or nothing: every item is validated first; a bad one is named by its index."""
    limit = settings.NOTIFICATIONS_BULK_LIMIT
    if len(items) > limit:
        raise InvalidNotification(
            f"At most {limit} notifications per bulk request.",
            code="bulk_limit_exceeded",
            details={"limit": limit, "count": len(items)},
        )
    raw_allowed = _raw_allowed(actor, workspace)
    plans, lookups = [], {}
    for index, item in enumerate(items):
        try:
            plans.append(
                prepare(workspace=workspace, raw_allowed=raw_allowed, lookups=lookups, **item)
            )
        except InvalidNotification as exc:
            raise BulkInvalid(
                f"Item {index}: {exc.message}",
                details={"index": index, "code": exc.code, "details": exc.details},
            ) from exc
        except NotificationNotFound as exc:
            raise BulkInvalid(
                f"Item {index}: {exc.message}",
                details={"index": index, "code": exc.code, "details": exc.details},
            ) from exc
    keys = [p.idempotency_key for p in plans if p.idempotency_key]
    if len(keys) != len(set(keys)):
        raise BulkInvalid("Two items share an idempotency key.")
    with transaction.atomic():
        found = {index: _existing(plan) for index, plan in enumerate(plans) if plan.idempotency_key}
        new = [plan for index, plan in enumerate(plans) if found.get(index) is None]
        _take_allowance(new, strict=True)
        written = iter(_write(new, actor_user(actor), allowed=True))
        return [found.get(index) or next(written) for index in range(len(plans))]


def send_system(plan: Plan) -> Notification:
    """A notification the product sends itself (rules): over the rate limit, its deliveries
    are recorded as failed (`rate_limited`) instead of raising."""
    with transaction.atomic():
        allowed = _take_allowance([plan], strict=False)
        return _write([plan], None, allowed=allowed)[0]


@transaction.atomic
def retry_delivery(*, actor: Actor | None, delivery: Delivery) -> Delivery:
    """A failed delivery goes back to the queue with a fresh set of attempts."""
    if actor is not None:
        require_role(actor, delivery.workspace_id, Role.EDITOR)
    updated = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.QUEUED,
        next_attempt_at=None,
        max_attempts=delivery.attempts + settings.NOTIFICATIONS_MAX_ATTEMPTS,
        error="",
        error_code="",
        failed_at=None,
        updated_at=timezone.now(),
    )
    if not updated:
        raise DeliveryNotRetryable(details={"status": delivery.status})
    delivery.refresh_from_db()
    dispatch.on_commit(
        [delivery], priority_of={delivery.notification_id: delivery.notification.priority}
    )
    return delivery
