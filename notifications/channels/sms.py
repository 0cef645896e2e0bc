"""SMS through a Twilio-compatible API: POST {base_url}/2010-04-01/Accounts/{sid}/
Messages.json, form-encoded To/From/Body, basic auth sid:token. The base URL defaults to
Twilio's and may point at any compatible provider (or a local stand-in in tests)."""

import base64
import json
from urllib.parse import quote, urlencode

from notifications.channels.base import DeliveryResult, channel_settings, outcome, post
from notifications.errors import PermanentSendError

TWILIO_BASE_URL = "https://api.twilio.com"
MAX_BODY = 1600  # Twilio's limit on one message body


def send(delivery) -> DeliveryResult:
    config, secrets = channel_settings(delivery)
    sid, token = config.get("account_sid"), secrets.get("auth_token")
    if not sid or not token or not config.get("from_number"):
        raise PermanentSendError("The SMS channel is missing its account, token or number.")
    base = (config.get("base_url") or TWILIO_BASE_URL).rstrip("/")
    url = f"{base}/2010-04-01/Accounts/{quote(sid, safe='')}/Messages.json"
    notification = delivery.notification
    text = (
        f"{notification.subject}: {notification.message}"
        if notification.subject
        else (notification.message)
    )
    form = {"To": delivery.recipient, "From": config["from_number"], "Body": text[:MAX_BODY]}
    auth = base64.b64encode(f"{sid}:{token}".encode()).decode()
    response = post(
        url,
        urlencode(form).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {auth}"},
    )
    message_id = ""
    if 200 <= response.status < 300:
        try:
            message_id = str(json.loads(response.body).get("sid", ""))
        except (ValueError, AttributeError):
            message_id = ""
    return outcome(response, message_id=message_id)
