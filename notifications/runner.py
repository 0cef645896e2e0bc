"""Running deliveries on a worker: claim them with a conditional update (so two messages, or
a redelivered one, send each at most once per attempt), call their channel's sender, record
the outcomes; transient failures come back later with exponential backoff and jitter. One
delivery per message (`deliver`), or a batch per message (`deliver_many`: one claim and one
outcome write for the batch)."""

import logging
import random
import time
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
# A batch writes the outcomes it has so far at least this often.
FLUSH_SECONDS = 2.0


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


# What an outcome writes (bulk_update needs the same fields on every row of a batch).
OUTCOME_FIELDS = [
    "status",
    "sent_at",
    "failed_at",
    "next_attempt_at",
    "provider_status",
    "provider_response",
    "provider_message_id",
    "error",
    "error_code",
    "updated_at",
]


def _attempt(delivery: Delivery) -> dict:
    """Call the delivery's sender; the fields its outcome writes."""
    try:
        result = sender_for(delivery.channel_kind)(delivery)
    except SendFailed as exc:
        return _failure(delivery, exc)
    except Exception as exc:  # a bug or an unexpected library error: do not loop on it
        logger.exception("notification sender crashed", extra={"delivery": str(delivery.pk)})
        return _failure(delivery, SendFailed(f"{type(exc).__name__}: {exc}", code="internal_error"))
    return {
        "status": DeliveryStatus.SENT,
        "sent_at": timezone.now(),
        "provider_status": result.provider_status,
        "provider_response": result.provider_response[:500],
        "provider_message_id": result.provider_message_id[:200],
        "error": "",
        "error_code": "",
        "next_attempt_at": None,
    }


def _failure(delivery: Delivery, exc: SendFailed) -> dict:
    common = {
        "provider_status": exc.status,
        "provider_response": exc.response[:500],
        "error": exc.message[:500],
        "error_code": exc.code[:60],
    }
    if exc.transient and delivery.attempts < delivery.max_attempts:
        eta = timezone.now() + timedelta(seconds=backoff(delivery.attempts, exc.retry_after))
        return {"status": DeliveryStatus.RETRYING, "next_attempt_at": eta, **common}
    return {
        "status": DeliveryStatus.FAILED,
        "failed_at": timezone.now(),
        "next_attempt_at": None,
        **common,
    }


def _record(outcomes: list[tuple[Delivery, dict]]) -> None:
    """Write the outcomes (only over rows still `sending`: one UPDATE for one delivery, one
    bulk UPDATE for a batch), announce them, and hand the retries back to the queues."""
    now = timezone.now()
    for delivery, fields in outcomes:
        fields["updated_at"] = now
        for name, value in fields.items():
            setattr(delivery, name, value)
    sending = Delivery.objects.filter(status=DeliveryStatus.SENDING)
    if len(outcomes) == 1:
        delivery, fields = outcomes[0]
        sending.filter(pk=delivery.pk).update(**fields)
    else:
        sending.bulk_update([d for d, _ in outcomes], OUTCOME_FIELDS)
    deliveries = [d for d, _ in outcomes]
    dispatch.announce(deliveries)
    retries = [
        (str(d.pk), d.notification.priority, d.next_attempt_at)
        for d in deliveries
        if d.status == DeliveryStatus.RETRYING
    ]
    if retries:
        dispatch.send(retries)


def deliver(delivery_id: str) -> str:
    """Send one delivery if it is due and unclaimed; returns its status afterwards."""
    delivery = claim(delivery_id)
    if delivery is None:
        return "not_claimed"
    dispatch.announce([delivery])
    outcome = _attempt(delivery)
    _record([(delivery, outcome)])
    return delivery.status


def deliver_many(delivery_ids: list[str]) -> dict[str, int]:
    """A batch (one broker message): every due and unclaimed delivery of `delivery_ids` is
    claimed in one statement, then sent one after the other; their outcomes are written
    together at the end, or every FLUSH_SECONDS for a slow batch (a row stays `sending` no
    longer than that after its attempt). The claim keeps the discipline of `deliver`: a row
    is sent at most once per attempt, and a worker that dies mid-batch leaves its claimed rows
    `sending` for the sweep to fail (`worker_lost`), never to resend."""
    now = timezone.now()
    claimed = claiming.claim_many(delivery_ids, now=now, not_after=now + EARLY_TOLERANCE)
    counts: dict[str, int] = {"not_claimed": len(delivery_ids) - len(claimed)}
    if not claimed:
        return counts
    dispatch.announce(claimed)
    outcomes: list[tuple[Delivery, dict]] = []
    flushed = time.monotonic()
    for delivery in claimed:
        outcomes.append((delivery, _attempt(delivery)))
        if time.monotonic() - flushed > FLUSH_SECONDS:
            _record(outcomes)
            outcomes, flushed = [], time.monotonic()
    if outcomes:
        _record(outcomes)
    for delivery in claimed:
        counts[delivery.status] = counts.get(delivery.status, 0) + 1
    return counts


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
