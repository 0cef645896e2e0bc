"""The in-app inbox, preferences and email opt-outs."""

from django.db import transaction
from django.utils import timezone

from notifications.models import (
    EmailOptOut,
    InboxItem,
    Preference,
)

# --- Inbox and preferences ----------------------------------------------------------------


@transaction.atomic
def mark_read(*, user, item: InboxItem) -> InboxItem:
    if item.read_at is None:
        item.read_at = timezone.now()
        item.save(update_fields=["read_at"])
    return item


@transaction.atomic
def mark_all_read(*, user, workspace_id: int | None = None) -> int:
    rows = InboxItem.objects.filter(user=user, read_at__isnull=True)
    if workspace_id is not None:
        rows = rows.filter(workspace_id=workspace_id)
    return rows.update(read_at=timezone.now())


@transaction.atomic
def update_preferences(*, user, **fields) -> Preference:
    preference, _ = Preference.objects.get_or_create(user=user)
    for name, value in fields.items():
        setattr(preference, name, value)
    preference.save()
    return preference


@transaction.atomic
def opt_out(*, workspace_id: int, address: str) -> EmailOptOut:
    row, _ = EmailOptOut.objects.get_or_create(workspace_id=workspace_id, address=address.lower())
    return row
