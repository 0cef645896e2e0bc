"""Discord: a channel webhook URL (https://discord.com/api/webhooks/...), one embed.
Discord answers 204 (or 200 with `?wait=true`)."""

from notifications.channels.base import (
    DeliveryResult,
    channel_settings,
    destination_url,
    outcome,
    post_json,
)

COLORS = {"high": 0xE74C3C, "normal": 0x3498DB, "low": 0x95A5A6}


def payload(notification) -> dict:
    embed = {
        "title": (notification.subject or "Docchain")[:256],
        "description": notification.message[:4096],
        "color": COLORS.get(notification.priority, COLORS["normal"]),
    }
    if link := notification.data.get("url"):
        embed["url"] = link
    return {"username": "Docchain", "embeds": [embed], "allowed_mentions": {"parse": []}}


def send(delivery) -> DeliveryResult:
    _, secrets = channel_settings(delivery)
    return outcome(post_json(destination_url(delivery, secrets), payload(delivery.notification)))
