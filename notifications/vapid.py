"""The VAPID key pair (RFC 8292) that signs every Web Push, from the settings.

`VAPID_PRIVATE_KEY` is the raw 32-byte P-256 private key, base64url (PEM or DER base64url
are accepted too: py_vapid reads all three); `VAPID_PUBLIC_KEY` the uncompressed public point,
base64url: what browsers pass to `pushManager.subscribe({applicationServerKey})`. The public
key is derived from the private one when unset, and must match it when set."""

import base64
import time
from functools import lru_cache
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from py_vapid import Vapid

from notifications.errors import ChannelNotConfigured

# A signed token is valid for at most 24 hours (RFC 8292 section 2); ours live 12 and are
# reused per push service for an hour, so a push costs no signature most of the time.
TOKEN_LIFETIME = 12 * 3600
TOKEN_REUSE = 3600


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key_of(private: ec.EllipticCurvePrivateKey) -> str:
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(point)


def generate() -> tuple[str, str]:
    """A new (private, public) pair in the settings' form."""
    private = ec.generate_private_key(ec.SECP256R1())
    raw = private.private_numbers().private_value.to_bytes(32, "big")
    return b64url(raw), public_key_of(private)


def configured() -> bool:
    return bool(settings.VAPID_PRIVATE_KEY)


@lru_cache(maxsize=4)
def _keys(private_text: str, public_text: str, subject: str) -> tuple[Vapid, str]:
    try:
        vapid = Vapid.from_string(private_key=private_text)
    except Exception as exc:
        raise ChannelNotConfigured(
            "VAPID_PRIVATE_KEY is not a P-256 private key (run generate_vapid_keys).",
            code="webpush_not_configured",
        ) from exc
    derived = public_key_of(vapid.private_key)
    if public_text and public_text.rstrip("=") != derived:
        raise ChannelNotConfigured(
            "VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY.",
            code="webpush_not_configured",
        )
    if not subject.startswith(("mailto:", "https://")):
        raise ChannelNotConfigured(
            "VAPID_SUBJECT must be a mailto: or https: contact for the push services.",
            code="webpush_not_configured",
        )
    return vapid, derived


def keys() -> tuple[Vapid, str]:
    """(the signer, the public key); ChannelNotConfigured when Web Push is not set up."""
    if not configured():
        raise ChannelNotConfigured(
            "Web Push is not configured on this server (VAPID_PRIVATE_KEY is not set).",
            code="webpush_not_configured",
        )
    return _keys(settings.VAPID_PRIVATE_KEY, settings.VAPID_PUBLIC_KEY, settings.VAPID_SUBJECT)


def public_key() -> str:
    return keys()[1]


_signed: dict[tuple[str, str], tuple[float, dict]] = {}


def authorization(endpoint: str) -> dict[str, str]:
    """The `Authorization: vapid t=<JWT>, k=<public key>` header for a push to `endpoint`:
    the JWT's audience is the push service's origin, `sub` our contact, `exp` 12 hours out."""
    vapid, public = keys()
    parts = urlsplit(endpoint)
    audience = f"{parts.scheme}://{parts.netloc}"
    now = time.time()
    cache_key = (public, audience)
    found = _signed.get(cache_key)
    if found is not None and found[0] > now:
        return found[1]
    claims = {"aud": audience, "exp": int(now) + TOKEN_LIFETIME, "sub": settings.VAPID_SUBJECT}
    header = vapid.sign(claims)
    if len(_signed) > 1000:
        _signed.clear()
    _signed[cache_key] = (now + TOKEN_REUSE, header)
    return header
