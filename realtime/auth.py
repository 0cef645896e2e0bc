"""Who is connecting: a WebSocket handshake's credentials turned into an `Actor`, or None.

Accepted, in this order:
- a JWT access token: `?token=<jwt>` or `Authorization: Bearer <jwt>`;
- an API key: `?api_key=<key>` or `Authorization: Api-Key <key>`;
- the Django session cookie (the project's own pages), only from a same-origin page: a cookie
  is sent by the browser whatever page opens the socket, so the Origin must be this site.
A credential that is given but invalid is refused; it never falls back to the session.
Nothing in the URL but the credential is trusted (`user_id=` is ignored).
"""

from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

from channels.db import database_sync_to_async
from django.conf import settings
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from accounts.authentication import API_KEY_KEYWORD, authenticate_api_key
from accounts.scoping import Actor


class Refused(Exception):
    """The handshake carries a credential that is missing, expired or invalid."""


@dataclass(frozen=True)
class Credential:
    actor: Actor
    # A JWT's `exp` or an API key's expiry date: the connection ends with the credential.
    expires_at: float | None = None


def _query(scope) -> dict[str, str]:
    parsed = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {key: values[-1] for key, values in parsed.items()}


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def client_ip(scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


def _jwt_actor(raw: str) -> Credential:
    try:
        token = AccessToken(raw)
        user = JWTAuthentication().get_user(token)
    except (TokenError, AuthenticationFailed) as exc:
        raise Refused(str(exc)) from exc
    return Credential(Actor(user=user), expires_at=float(token["exp"]))


def _api_key_actor(raw: str, ip: str | None) -> Credential:
    try:
        api_key = authenticate_api_key(raw, ip=ip)
    except AuthenticationFailed as exc:
        raise Refused(str(exc)) from exc
    expires_at = api_key.expiry_date.timestamp() if api_key.expiry_date else None
    return Credential(Actor(user=api_key.created_by, api_key=api_key), expires_at=expires_at)


def has_credential(scope) -> bool:
    """Whether the handshake brings a token or key (then the session is never consulted)."""
    query = _query(scope)
    return _header(scope, b"authorization") is not None or "token" in query or "api_key" in query


def same_origin(scope) -> bool:
    origin = _header(scope, b"origin")
    host = _header(scope, b"host")
    if not origin or not host:
        return False
    parsed = urlparse(origin)
    if parsed.netloc == host and parsed.scheme in ("http", "https"):
        return True
    return origin in settings.CSRF_TRUSTED_ORIGINS


def authenticate_sync(scope) -> Credential:
    """Return who the handshake in `scope` authenticates, or raise Refused."""
    query = _query(scope)
    authorization = _header(scope, b"authorization")
    if authorization:
        parts = authorization.split()
        if len(parts) != 2:
            raise Refused("malformed Authorization header")
        keyword, raw = parts
        if keyword.lower() == "bearer":
            return _jwt_actor(raw)
        if keyword.lower() == API_KEY_KEYWORD.lower():
            return _api_key_actor(raw, client_ip(scope))
        raise Refused("unsupported Authorization scheme")
    if "token" in query:
        return _jwt_actor(query["token"])
    if "api_key" in query:
        return _api_key_actor(query["api_key"], client_ip(scope))
    user = scope.get("user")
    if user is not None and user.is_authenticated and user.is_active and same_origin(scope):
        return Credential(Actor(user=user))
    raise Refused("no credential")


authenticate = database_sync_to_async(authenticate_sync)


def connection_label(scope, channel_name: str) -> str:
    # The brief's clients send `connection_id`: a label for their logs, never an identity.
    return _query(scope).get("connection_id", "")[:64] or channel_name[-12:]
