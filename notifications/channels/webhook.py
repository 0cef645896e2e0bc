"""Webhooks: JSON signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`,
`webhook-signature`) with the channel's `whsec_` secret, so receivers verify it with any
Standard Webhooks library. The delivery id is the message id: a retry carries the same id,
so a receiver can drop duplicates."""

import json
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from notifications.channels.base import DeliveryResult, channel_settings, outcome, post
from notifications.errors import PermanentSendError


def payload(delivery) -> dict:
    notification = delivery.notification
    return {
        "type": notification.event or "notification",
        "timestamp": notification.created_at.isoformat(),
        "data": {
            "notification_id": str(notification.pk),
            "delivery_id": str(delivery.pk),
            "workspace_id": notification.workspace_id,
            "subject": notification.subject,
            "message": notification.message,
            "priority": notification.priority,
            **({"context": notification.data} if notification.data else {}),
        },
    }


def signed_headers(secret: str, msg_id: str, body: str) -> dict:
    now = datetime.now(tz=UTC)
    signature = Webhook(secret).sign(msg_id, now, body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


def send(delivery) -> DeliveryResult:
    config, secrets = channel_settings(delivery)
    url, secret = config.get("url"), secrets.get("signing_secret")
    if not url or not secret:
        raise PermanentSendError("The webhook channel has no URL or secret.", code="no_url")
    body = json.dumps(payload(delivery), separators=(",", ":"))
    msg_id = f"msg_{delivery.pk.hex}"
    headers = {"Content-Type": "application/json", **signed_headers(secret, msg_id, body)}
    return outcome(post(url, body.encode(), headers), message_id=msg_id)
