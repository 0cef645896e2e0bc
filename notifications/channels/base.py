"""What every channel shares: the result type, the channel's settings, and how an HTTP
answer becomes sent / transient / permanent."""

import http.client
import json
from dataclasses import dataclass

from notifications import net
from notifications.errors import PermanentSendError, TransientSendError, UnsafeURL


@dataclass
class DeliveryResult:
    provider_status: int | None = None
    provider_response: str = ""
    provider_message_id: str = ""


def channel_settings(delivery) -> tuple[dict, dict]:
    """(config, secrets) of the delivery's configured channel ({} and {} for none)."""
    channel = delivery.notification.channel
    if channel is None:
        return {}, {}
    from notifications.secrets import read_secret

    return dict(channel.config or {}), read_secret(channel)


def destination_url(delivery, secrets: dict) -> str:
    """A configured channel's URL, else the recipient (a raw webhook URL)."""
    url = secrets.get("url") or delivery.recipient
    if not url.startswith(("http://", "https://")):
        raise PermanentSendError("No webhook URL to deliver to.", code="no_url")
    return url


def post_json(url: str, payload: dict, headers: dict | None = None) -> net.HttpResponse:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return post(url, body, {"Content-Type": "application/json", **(headers or {})})


def post(url: str, body: bytes, headers: dict) -> net.HttpResponse:
    """POST through the SSRF guard; a refused address is permanent, a network error is
    transient."""
    try:
        return net.post(url, body, headers=headers)
    except UnsafeURL as exc:
        raise PermanentSendError(exc.message, code="unsafe_url") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise TransientSendError(f"{type(exc).__name__}: {exc}", code="network_error") from exc


def _retry_after(headers: dict) -> float | None:
    try:
        return max(0.0, float(headers.get("retry-after", "")))
    except ValueError:
        return None


def outcome(response: net.HttpResponse, *, message_id: str = "") -> DeliveryResult:
    """2xx: the result; 429, 408 and 5xx: transient; any other 4xx (and 3xx: redirects are
    not followed): permanent."""
    excerpt = response.text[:500]
    if 200 <= response.status < 300:
        return DeliveryResult(response.status, excerpt, message_id)
    error = (
        TransientSendError
        if response.status in (408, 429) or response.status >= 500
        else (PermanentSendError)
    )
    raise error(
        f"The receiver answered {response.status}.",
        code=f"http_{response.status}",
        status=response.status,
        response=excerpt,
        retry_after=_retry_after(response.headers) if response.status == 429 else None,
    )
