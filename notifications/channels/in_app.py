"""In-app: a stored inbox item for the recipient user, pushed at once as
`notification.created` to that user's WebSocket connections (their `user.<id>` group)."""

from django.db import transaction

from notifications.channels.base import DeliveryResult
from notifications.errors import PermanentSendError
from notifications.models import InboxItem
from realtime.events import publish_on_commit
from realtime.groups import user_group


def inbox_payload(item: InboxItem) -> dict:
    return {
        "id": item.pk,
        "workspace_id": item.workspace_id,
        "subject": item.subject,
        "message": item.message,
        "data": item.data,
        "read": item.read_at is not None,
        "created_at": item.created_at,
    }


def send(delivery) -> DeliveryResult:
    if delivery.user_id is None:
        raise PermanentSendError("In-app notifications go to users only.", code="no_user")
    notification = delivery.notification
    with transaction.atomic():
        item, _ = InboxItem.objects.get_or_create(
            delivery=delivery,
            defaults={
                "user_id": delivery.user_id,
                "workspace_id": delivery.workspace_id,
                "subject": notification.subject,
                "message": notification.message,
                "data": notification.data,
            },
        )
        publish_on_commit(
            "notification.created", inbox_payload(item), groups=[user_group(delivery.user_id)]
        )
    return DeliveryResult(provider_message_id=str(item.pk))
