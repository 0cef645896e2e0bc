"""Slack: an incoming-webhook URL (https://hooks.slack.com/services/...), Block Kit message
with a plain-text fallback. Slack answers 200 "ok"."""

from notifications.channels.base import (
    DeliveryResult,
    channel_settings,
    destination_url,
    outcome,
    post_json,
)


def payload(notification) -> dict:
    blocks = []
    if notification.subject:
        blocks.append(
            {"type": "header", "text": {"type": "plain_text", "text": notification.subject[:150]}}
        )
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": notification.message}})
    if link := notification.data.get("url"):
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{link}|Open>"}]}
        )
    text = (
        f"{notification.subject}\n{notification.message}"
        if notification.subject
        else (notification.message)
    )
    return {"text": text, "blocks": blocks}


def send(delivery) -> DeliveryResult:
    _, secrets = channel_settings(delivery)
    return outcome(post_json(destination_url(delivery, secrets), payload(delivery.notification)))
