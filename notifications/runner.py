"""Running one delivery on a worker: claim it with a conditional update (so two messages, or
a redelivered one, send it at most once per attempt), call its channel's sender, record the
outcome; transient failures come back later with exponential backoff and jitter."""

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from notifications import claim as claiming
from notifications import dispatch
from notifications.channels import sender_for
from notifications.errors import SendFailed
from notifications.models import CLAIMABLE, Delivery, DeliveryStatus

logger = logging.getLogger(__name__)
# A message that arrives a little before its eta (clocks differ) still claims its row.
EARLY_TOLERANCE = timedelta(seconds=1)


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before attempt `attempt + 1`: base * 2^(attempt-1), capped, with jitter (half
    fixed, half random), and never sooner than the provider's Retry-After."""
    base = settings.NOTIFICATIONS_RETRY_BASE_SECONDS
    delay = min(settings.NOTIFICATIONS_RETRY_MAX_SECONDS, base * 2 ** max(0, attempt - 1))
    delay = delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not crypto
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.NOTIFICATIONS_RETRY_MAX_SECONDS))
    return delay


def claim(delivery_id: str) -> Delivery | None:
    now = timezone.now()
    return claiming.claim(delivery_id, now=now, not_after=now + EARLY_TOLERANCE)


def _finish(delivery: Delivery, **fields) -> None:
    fields["updated_at"] = timezone.now()
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(**fields)
    for name, value in fields.items():
        setattr(delivery, name, value)
    dispatch.announce([delivery])


def deliver(delivery_id: str) -> str:
    """Send one delivery if it is due and unclaimed; returns its status afterwards."""
    delivery = claim(delivery_id)
    if delivery is None:
        return "not_claimed"
    dispatch.announce([delivery])
    try:
        result = sender_for(delivery.channel_kind)(delivery)
    except SendFailed as exc:
        return _failed(delivery, exc)
    except Exception as exc:  # a bug or an unexpected library error: do not loop on it
        logger.exception("notification sender crashed", extra={"delivery": str(delivery.pk)})
        return _failed(delivery, SendFailed(f"{type(exc).__name__}: {exc}", code="internal_error"))
    _finish(
        delivery,
        status=DeliveryStatus.SENT,
        sent_at=timezone.now(),
        provider_status=result.provider_status,
        provider_response=result.provider_response[:500],
        provider_message_id=result.provider_message_id[:200],
        error="",
        error_code="",
        next_attempt_at=None,
    )
    return DeliveryStatus.SENT


def _failed(delivery: Delivery, exc: SendFailed) -> str:
    common = {
        "provider_status": exc.status,
        "provider_response": exc.response[:500],
        "error": exc.message[:500],
        "error_code": exc.code[:60],
    }
    if exc.transient and delivery.attempts < delivery.max_attempts:
        eta = timezone.now() + timedelta(seconds=backoff(delivery.attempts, exc.retry_after))
        _finish(delivery, status=DeliveryStatus.RETRYING, next_attempt_at=eta, **common)
        dispatch.send([(str(delivery.pk), delivery.notification.priority, eta)])
        return DeliveryStatus.RETRYING
    _finish(
        delivery,
        status=DeliveryStatus.FAILED,
        failed_at=timezone.now(),
        next_attempt_at=None,
        **common,
    )
    return DeliveryStatus.FAILED


def sweep(*, stuck_after: timedelta | None = None, lost_after: timedelta | None = None) -> dict:
    """Beat: a delivery left `sending` by a dead worker is failed (`worker_lost`), never sent
    again by itself (it may have gone out: a person retries it); queued or retrying rows whose
    message was lost (broker down) are handed over again."""
    now = timezone.now()
    stuck_after = stuck_after or timedelta(seconds=settings.NOTIFICATIONS_STUCK_AFTER_SECONDS)
    lost_after = lost_after or timedelta(seconds=settings.NOTIFICATIONS_LOST_AFTER_SECONDS)
    stuck = Delivery.objects.filter(
        status=DeliveryStatus.SENDING, sending_at__lt=now - stuck_after
    ).update(
        status=DeliveryStatus.FAILED,
        failed_at=now,
        error_code="worker_lost",
        error="The worker stopped while sending; not resent on its own (it may have arrived).",
        updated_at=now,
    )
    lost = list(
        Delivery.objects.filter(status__in=CLAIMABLE, updated_at__lt=now - lost_after)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=now - lost_after))
        .select_related("notification")
        .values_list("pk", "notification__priority")[:1000]
    )
    if lost:
        Delivery.objects.filter(pk__in=[pk for pk, _ in lost]).update(updated_at=now)
        dispatch.send([(str(pk), priority, None) for pk, priority in lost])
    return {"failed_stuck": stuck, "resent": len(lost)}
