"""The push channel, two providers behind one `send(delivery)`:
- **ntfy** (channels/ntfy.py): a configured push channel with a server URL and topic (the
  default provider of a push channel; the recipient is a topic).
- **Web Push** (channels/webpush.py): browsers that subscribed with our VAPID key, used when
  the push channel is configured with `"provider": "webpush"`, or when no push channel is
  configured and the recipients are workspace users (each user's every subscription)."""

from notifications.channels import ntfy, webpush
from notifications.channels.base import DeliveryResult

NTFY, WEBPUSH = "ntfy", "webpush"
PROVIDERS = (NTFY, WEBPUSH)


def provider_of(channel) -> str:
    """The provider a push channel (None: no configured channel) delivers with."""
    if channel is None:
        return WEBPUSH
    return (channel.config or {}).get("provider") or NTFY


def send(delivery) -> DeliveryResult:
    if provider_of(delivery.notification.channel) == WEBPUSH:
        return webpush.send(delivery)
    return ntfy.send(delivery)
