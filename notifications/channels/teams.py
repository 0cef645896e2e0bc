"""Microsoft Teams: a Workflows ("Post to a channel when a webhook request is received")
URL, since Office 365 connectors are retired; the message is an Adaptive Card attachment.
Workflows answer 202."""

from notifications.channels.base import (
    DeliveryResult,
    channel_settings,
    destination_url,
    outcome,
    post_json,
)


def card(notification) -> dict:
    body = []
    if notification.subject:
        body.append(
            {
                "type": "TextBlock",
                "text": notification.subject,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            }
        )
    body.append({"type": "TextBlock", "text": notification.message, "wrap": True})
    content = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if link := notification.data.get("url"):
        content["actions"] = [{"type": "Action.OpenUrl", "title": "Open", "url": link}]
    return content


def payload(notification) -> dict:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card(notification),
            }
        ],
    }


def send(delivery) -> DeliveryResult:
    _, secrets = channel_settings(delivery)
    return outcome(post_json(destination_url(delivery, secrets), payload(delivery.notification)))
