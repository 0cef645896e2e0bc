"""Who is connecting: a WebSocket handshake's credentials turned into an `Actor`, or None.

Accepted, in this order:
- a JWT access token: `?token=<jwt>` or `Authorization: Bearer <jwt>`;
- an API key: `?api_key=<key>` or `Authorization: Api-Key <key>`;
- the Django session cookie (the project's own pages), only from a same-origin page: a cookie
  is sent by the browser whatever page opens the socket, so the Origin must be this site.
A credential that is given but invalid is refused; it never falls back to the session.
Nothing in the URL but the credential is trusted (`user_id=` is ignored).

The same rules as the HTTP API apply: a JWT's login session must be active (logout and
revocation refuse it, and close open connections: `session.revoked`), a user that a workspace
policy obliges to use MFA and has none is refused, and the client's address is the actor's
`ip`, so workspaces outside their allowed ranges read as not there.
"""

from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

from channels.db import database_sync_to_async
from django.conf import settings
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from accounts import mfa, policies, sessions
from accounts.authentication import API_KEY_KEYWORD, authenticate_api_key, check_token_session
from accounts.scoping import Actor
from config.client_ip import client_ip as project_client_ip


class Refused(Exception):
    """The handshake carries a credential that is missing, expired or invalid."""


@dataclass(frozen=True)
class Credential:
    actor: Actor
    # A JWT's `exp` or an API key's expiry date: the connection ends with the credential.
    expires_at: float | None = None
    # The login session (JWT `sid`, browser session): its revocation closes the connection.
    session_id: str | None = None


def _query(scope) -> dict[str, str]:
    parsed = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {key: values[-1] for key, values in parsed.items()}


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def client_ip(scope) -> str | None:
    """The client's address by the project's one rule (config.client_ip), from an ASGI scope."""
    client = scope.get("client")
    meta = {
        "REMOTE_ADDR": client[0] if client else "",
        "HTTP_X_FORWARDED_FOR": _header(scope, b"x-forwarded-for") or "",
    }
    return project_client_ip(SimpleNamespace(META=meta))


def _jwt_actor(raw: str, ip: str | None) -> Credential:
    try:
        token = AccessToken(raw)
        user = JWTAuthentication().get_user(token)
        check_token_session(token)
    except (TokenError, AuthenticationFailed) as exc:
        raise Refused(str(exc)) from exc
    return Credential(
        Actor(user=user, ip=ip),
        expires_at=float(token["exp"]),
        session_id=str(token[sessions.SID_CLAIM]),
    )


def _api_key_actor(raw: str, ip: str | None) -> Credential:
    try:
        api_key = authenticate_api_key(raw, ip=ip)
    except AuthenticationFailed as exc:
        raise Refused(str(exc)) from exc
    expires_at = api_key.expiry_date.timestamp() if api_key.expiry_date else None
    return Credential(Actor(user=api_key.created_by, api_key=api_key, ip=ip), expires_at=expires_at)


def _session_actor(scope, user, ip: str | None) -> Credential:
    session = scope.get("session")
    sid = session.get(sessions.SID_CLAIM) if session is not None else None
    if sid:
        try:
            sessions.check_session(sid, user_id=user.pk)
        except Exception as exc:
            raise Refused(str(exc)) from exc
    return Credential(Actor(user=user, ip=ip), session_id=str(sid) if sid else None)


def _enforce_policies(credential: Credential) -> Credential:
    user = credential.actor.user
    if policies.effective_for_user(user.pk).require_mfa and not mfa.has_mfa(user):
        raise Refused("a workspace requires MFA and this account has none")
    return credential


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
    return _enforce_policies(_credential(scope))


def _credential(scope) -> Credential:
    ip = client_ip(scope)
    query = _query(scope)
    authorization = _header(scope, b"authorization")
    if authorization:
        parts = authorization.split()
        if len(parts) != 2:
            raise Refused("malformed Authorization header")
        keyword, raw = parts
        if keyword.lower() == "bearer":
            return _jwt_actor(raw, ip)
        if keyword.lower() == API_KEY_KEYWORD.lower():
            return _api_key_actor(raw, ip)
        raise Refused("unsupported Authorization scheme")
    if "token" in query:
        return _jwt_actor(query["token"], ip)
    if "api_key" in query:
        return _api_key_actor(query["api_key"], ip)
    user = scope.get("user")
    if user is not None and user.is_authenticated and user.is_active and same_origin(scope):
        return _session_actor(scope, user, ip)
    raise Refused("no credential")


authenticate = database_sync_to_async(authenticate_sync)


def connection_label(scope, channel_name: str) -> str:
    # The brief's clients send `connection_id`: a label for their logs, never an identity.
    return _query(scope).get("connection_id", "")[:64] or channel_name[-12:]
