"""Web Push subscriptions: a user registers the browser's `PushSubscription.toJSON()` (the
push service's endpoint and the browser's keys) and removes it. Each write is one
transaction; the endpoint passes the SSRF guard (and must be https) unless
NOTIFICATIONS_ALLOW_PRIVATE_URLS is set."""

import binascii

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction

from notifications import net, vapid
from notifications.errors import InvalidNotification, UnsafeURL
from notifications.models import PushSubscription


def _key(value, name: str, length: int) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise InvalidNotification(
            f"keys.{name} is required (base64url).", details={"keys": {name: "required"}}
        )
    try:
        raw = vapid.b64url_decode(value.strip())
    except (binascii.Error, ValueError):
        raise InvalidNotification(
            f"keys.{name} is not base64url.", details={"keys": {name: "not base64url"}}
        ) from None
    if len(raw) != length:
        raise InvalidNotification(
            f"keys.{name} must be {length} bytes, not {len(raw)}.",
            details={"keys": {name: f"{length} bytes"}},
        )
    if name == "p256dh":
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError:
            raise InvalidNotification(
                "keys.p256dh is not a P-256 public key (uncompressed point).",
                details={"keys": {name: "not a P-256 point"}},
            ) from None
    return value.strip()


def check_endpoint(endpoint: str) -> str:
    url = net.check_url(endpoint)  # http(s), a host, no refused address
    if not settings.NOTIFICATIONS_ALLOW_PRIVATE_URLS and not url.startswith("https://"):
        raise UnsafeURL("A push service endpoint must be https.", code="invalid_url")
    return url


@transaction.atomic
def subscribe(*, user, endpoint: str, keys: dict, user_agent: str = "") -> PushSubscription:
    """Register (or refresh the keys of) the user's subscription at `endpoint`;
    `subscription.created_now` says which."""
    endpoint = check_endpoint(endpoint)
    keys = keys if isinstance(keys, dict) else {}
    p256dh = _key(keys.get("p256dh"), "p256dh", 65)
    auth = _key(keys.get("auth"), "auth", 16)
    found = PushSubscription.objects.select_for_update().filter(user=user, endpoint=endpoint)
    subscription = found.first()
    if subscription is None:
        limit = settings.WEBPUSH_MAX_SUBSCRIPTIONS_PER_USER
        if PushSubscription.objects.filter(user=user).count() >= limit:
            raise InvalidNotification(
                f"At most {limit} push subscriptions per user; remove an old one first.",
                code="too_many_subscriptions",
                details={"limit": limit},
            )
        subscription = PushSubscription.objects.create(
            user=user, endpoint=endpoint, p256dh=p256dh, auth=auth, user_agent=user_agent[:300]
        )
        subscription.created_now = True
        return subscription
    subscription.p256dh, subscription.auth = p256dh, auth
    subscription.user_agent = user_agent[:300]
    subscription.save(update_fields=["p256dh", "auth", "user_agent"])
    subscription.created_now = False
    return subscription


@transaction.atomic
def unsubscribe(*, user, subscription: PushSubscription) -> None:
    """Remove one of the user's own subscriptions (the selector found it among theirs)."""
    PushSubscription.objects.filter(pk=subscription.pk, user=user).delete()
