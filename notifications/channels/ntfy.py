"""The push channel's ntfy provider (https://ntfy.sh or self-hosted): a JSON publish to the
server's root with the topic, title, message and priority. The recipient is the topic (the
channel's own by default); an access token, when configured, is sent as a bearer token."""

import json

from notifications.channels.base import DeliveryResult, channel_settings, outcome, post_json
from notifications.errors import PermanentSendError

NTFY_PRIORITY = {"high": 4, "normal": 3, "low": 2}
DEFAULT_SERVER = "https://ntfy.sh"


def send(delivery) -> DeliveryResult:
    config, secrets = channel_settings(delivery)
    server = (config.get("server_url") or DEFAULT_SERVER).rstrip("/")
    topic = delivery.recipient or config.get("topic")
    if not topic:
        raise PermanentSendError("No ntfy topic to publish to.", code="no_topic")
    notification = delivery.notification
    message = {
        "topic": topic,
        "message": notification.message,
        "priority": NTFY_PRIORITY.get(notification.priority, 3),
    }
    if notification.subject:
        message["title"] = notification.subject
    if link := notification.data.get("url"):
        message["click"] = link
    headers = {"Authorization": f"Bearer {secrets['token']}"} if secrets.get("token") else {}
    response = post_json(server + "/", message, headers)
    message_id = ""
    if 200 <= response.status < 300:
        try:
            message_id = str(json.loads(response.body).get("id", ""))
        except (ValueError, AttributeError):
            message_id = ""
    return outcome(response, message_id=message_id)
