"""Retention: rows older than AUDIT_RETENTION_DAYS are deleted, a chain's oldest first, and
the chain's head keeps a signed checkpoint (the last deleted row's seq and hash), so
`audit_verify` still holds: the first remaining row must link to the checkpoint."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit import chain
from audit.models import AuditLogEntry, ChainHead, SecurityEvent


def purge_chain(name: str, *, cutoff) -> int:
    """Delete the chain's rows up to the newest one older than `cutoff` (a prefix of the
    chain, so no gap is left inside it); returns how many were deleted."""
    with transaction.atomic():
        chain.lock(name)
        old_log = AuditLogEntry.objects.filter(chain=name, timestamp__lt=cutoff)
        old_events = SecurityEvent.objects.filter(chain=name, created_at__lt=cutoff)
        last = max(
            old_log.aggregate(seq=Max("seq"))["seq"] or 0,
            old_events.aggregate(seq=Max("seq"))["seq"] or 0,
        )
        if not last:
            return 0
        boundary = (
            AuditLogEntry.objects.filter(chain=name, seq=last)
            .values_list("hash", flat=True)
            .first()
            or SecurityEvent.objects.filter(chain=name, seq=last)
            .values_list("hash", flat=True)
            .first()
        )
        deleted = AuditLogEntry.objects.filter(chain=name, seq__lte=last).delete()[0]
        deleted += SecurityEvent.objects.filter(chain=name, seq__lte=last).delete()[0]
        head = ChainHead.objects.select_for_update().get(chain=name)
        head.checkpoint_seq = last
        head.checkpoint_hash = boundary
        head.checkpoint_signature = chain.checkpoint_signature(name, last, boundary)
        head.checkpoint_at = timezone.now()
        head.save(
            update_fields=[
                "checkpoint_seq",
                "checkpoint_hash",
                "checkpoint_signature",
                "checkpoint_at",
            ]
        )
    return deleted


def purge(*, days: int | None = None) -> dict:
    days = settings.AUDIT_RETENTION_DAYS if days is None else days
    if days <= 0:
        return {"deleted": 0, "chains": 0, "kept_forever": True}
    cutoff = timezone.now() - timedelta(days=days)
    deleted, touched = 0, 0
    for name in chain.chains():
        count = purge_chain(name, cutoff=cutoff)
        deleted += count
        touched += bool(count)
    return {"deleted": deleted, "chains": touched, "cutoff": cutoff.isoformat()}
