"""The push channel's Web Push provider (RFC 8030/8291/8292): the message is encrypted for
each of the recipient user's browser subscriptions (aes128gcm, pywebpush's encoder) and
POSTed to its push service through the SSRF guard, signed with our VAPID key.

Outcomes per subscription: 2xx delivered (its `last_success_at` is set); 404/410 the
subscription is gone (deleted); 429, 408, 5xx and network errors are transient; other 4xx
permanent. The delivery is sent when at least one subscription took it. Only when none did
and one failed transiently is the whole delivery retried: none of them has the message yet,
so a retry never pushes twice to the same browser (at most once per subscription)."""

import json

from django.conf import settings
from django.utils import timezone
from pywebpush import WebPusher

from notifications import vapid
from notifications.channels.base import DeliveryResult, outcome, post
from notifications.errors import ChannelNotConfigured, PermanentSendError, SendFailed
from notifications.models import PushSubscription

URGENCY = {"high": "high", "normal": "normal", "low": "low"}
# A push message's encrypted record is at most 4096 bytes: 86 of header and padding.
MAX_PAYLOAD_BYTES = 3900
GONE = (404, 410)


def payload(notification) -> bytes:
    """JSON for the service worker: title, body, url, id, priority; the body is cut to fit."""
    message = {
        "id": str(notification.pk),
        "title": notification.subject,
        "body": notification.message,
        "url": notification.data.get("url", ""),
        "priority": notification.priority,
    }
    data = json.dumps(message, separators=(",", ":")).encode()
    while len(data) > MAX_PAYLOAD_BYTES and message["body"]:
        over = len(data) - MAX_PAYLOAD_BYTES
        message["body"] = message["body"][: max(0, len(message["body"]) - over - 1)] + "…"
        data = json.dumps(message, separators=(",", ":")).encode()
    return data


def push_one(subscription: PushSubscription, data: bytes, *, priority: str) -> DeliveryResult:
    """Encrypt and send `data` to one subscription; raises SendFailed."""
    encoded = WebPusher(
        {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
    ).encode(data, content_encoding="aes128gcm")
    headers = {
        "Content-Type": "application/octet-stream",
        "Content-Encoding": "aes128gcm",
        "TTL": str(settings.WEBPUSH_TTL_SECONDS),
        "Urgency": URGENCY.get(priority, "normal"),
        **vapid.authorization(subscription.endpoint),
    }
    response = post(subscription.endpoint, encoded["body"], headers)
    return outcome(response, message_id=response.headers.get("location", "")[-200:])


def send(delivery) -> DeliveryResult:
    if delivery.user_id is None:
        raise PermanentSendError("Web Push goes to workspace users only.", code="no_user")
    try:
        vapid.keys()
    except ChannelNotConfigured as exc:
        raise PermanentSendError(exc.message, code="webpush_not_configured") from exc
    subscriptions = list(PushSubscription.objects.filter(user_id=delivery.user_id))
    if not subscriptions:
        raise PermanentSendError(
            "The user has no Web Push subscription.", code="no_push_subscription"
        )
    notification = delivery.notification
    data = payload(notification)
    sent, gone, failures = [], [], []
    for subscription in subscriptions:
        try:
            sent.append(
                (subscription, push_one(subscription, data, priority=notification.priority))
            )
        except SendFailed as exc:
            if exc.status in GONE:
                gone.append(subscription.pk)
            else:
                failures.append(exc)
    if gone:
        PushSubscription.objects.filter(pk__in=gone).delete()
    summary = (
        f"{len(sent)} of {len(subscriptions)} subscriptions took it"
        + (f"; {len(gone)} gone, removed" if gone else "")
        + (f"; {len(failures)} failed" if failures else "")
    )
    if sent:
        PushSubscription.objects.filter(pk__in=[s.pk for s, _ in sent]).update(
            last_success_at=timezone.now()
        )
        first = sent[0][1]
        return DeliveryResult(first.provider_status, summary, first.provider_message_id)
    transient = [exc for exc in failures if exc.transient]
    worst = (transient or failures or [None])[0]
    if worst is None:  # every subscription was gone
        raise PermanentSendError(summary, code="push_subscription_gone", status=GONE[-1])
    raise type(worst)(
        f"{summary}: {worst.message}",
        code=worst.code,
        status=worst.status,
        response=worst.response,
        retry_after=worst.retry_after,
    )
