"""The baseline for bench/notify.py: a bare Celery task that signs and POSTs the same webhook
payload to the same receiver, loaded into the worker with `--include bench.notify_bare`,
never part of the application."""

import http.client
import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

from celery import shared_task
from standardwebhooks.webhooks import Webhook


@shared_task(name="bench.notify_post", ignore_result=True)
def post(url: str, secret: str, msg_id: str, payload: dict) -> int:
    body = json.dumps(payload, separators=(",", ":"))
    now = datetime.now(tz=UTC)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
    }
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("POST", parts.path, body=body.encode(), headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()
