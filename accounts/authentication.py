from datetime import timedelta

from django.contrib.auth import logout as django_logout
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication

from accounts import policies, sessions, user_cache
from accounts.errors import SessionEnded
from accounts.models import ApiKey, Membership, User
from audit.events import SecurityEventKind
from audit.models import SecurityEvent
from audit.services import record_security_event
from config.client_ip import client_ip

API_KEY_KEYWORD = "Api-Key"
# Writing last-use on every request would make each call a write; once a minute is enough.
LAST_USED_RESOLUTION_SECONDS = 60


def authenticate_api_key(raw_key: str, *, ip: str | None = None) -> ApiKey:
    """Return the active key for `raw_key` or raise AuthenticationFailed. Records last use."""
    try:
        api_key = ApiKey.objects.get_from_key(raw_key)
    except ApiKey.DoesNotExist:
        raise exceptions.AuthenticationFailed(
            "Unknown or revoked API key.", code="invalid_api_key"
        ) from None
    if api_key.has_expired:
        raise exceptions.AuthenticationFailed("This API key has expired.", code="expired_api_key")
    max_age = policies.workspace_rules(api_key.workspace_id).get("api_key_max_age_days")
    if max_age and api_key.created < timezone.now() - timedelta(days=max_age):
        raise exceptions.AuthenticationFailed(
            f"This API key is older than its workspace allows ({max_age} days): make a new one.",
            code="expired_api_key",
        )
    user = api_key.created_by
    if (
        not user.is_active
        or not Membership.objects.filter(user=user, workspace_id=api_key.workspace_id).exists()
    ):
        raise exceptions.AuthenticationFailed(
            "The owner of this API key can no longer use it.", code="invalid_api_key"
        )
    now = timezone.now()
    stale = api_key.last_used_at is None or (
        (now - api_key.last_used_at).total_seconds() >= LAST_USED_RESOLUTION_SECONDS
    )
    if stale or api_key.last_used_ip != ip:
        moved = bool(ip) and api_key.last_used_ip != ip
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now, last_used_ip=ip)
        if moved:
            _note_new_ip(api_key, ip, first=api_key.last_used_ip is None)
        api_key.last_used_at, api_key.last_used_ip = now, ip
    return api_key


def _note_new_ip(api_key: ApiKey, ip: str, *, first: bool) -> None:
    """A key used from an address it never used before is a security event: the first one
    (info: the key's history of addresses starts) and every later one (a warning and an
    alert, rule `api_key_new_ip`)."""
    seen = SecurityEvent.objects.filter(
        kind=SecurityEventKind.APIKEY_USED_NEW_IP, details__prefix=api_key.prefix, details__ip=ip
    ).exists()
    if not seen:
        record_security_event(
            SecurityEventKind.APIKEY_USED_NEW_IP,
            actor=api_key.created_by,
            workspace=api_key.workspace_id,
            severity="info" if first else None,
            details={"prefix": api_key.prefix, "name": api_key.name, "ip": ip, "first_use": first},
        )


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>`: request.user is the key's creator, request.auth the key."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != API_KEY_KEYWORD.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Api-Key header: expected 'Api-Key <key>'.", code="invalid_api_key"
            )
        api_key = authenticate_api_key(header[1], ip=client_ip(request))
        return api_key.created_by, api_key

    def authenticate_header(self, request) -> str:
        return API_KEY_KEYWORD


def check_token_session(token) -> User | None:
    """An access token is good only while its login session is (HTTP and WebSocket alike).
    Returns the token's user when Redis has its row (read in the same round trip), else None."""
    sid = token.get(sessions.SID_CLAIM)
    if not sid:
        raise exceptions.AuthenticationFailed(
            "This token belongs to no login session; log in again.", code="session_revoked"
        )
    user_id = _int_or_none(token.get("user_id"))
    try:
        row = sessions.check_session(
            sid, user_id=user_id, also=user_cache.key(user_id) if user_id else None
        )
    except SessionEnded as exc:
        raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from None
    user = user_cache.from_entry(row)
    return user if user is not None and user.pk == user_id else None


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class SessionJWTAuthentication(JWTAuthentication):
    """simplejwt's JWT check, plus: the token's login session (`sid`) is still active, so
    logout and revocation end access tokens at once. The user comes from Redis with the
    session's state when it is there (`accounts.user_cache`), else from its row."""

    _cached_user: User | None = None  # DRF makes an instance per request

    def get_validated_token(self, raw_token):
        token = super().get_validated_token(raw_token)
        self._cached_user = check_token_session(token)
        return token

    def get_user(self, validated_token):
        user = self._cached_user
        if user is None:
            user = super().get_user(validated_token)
            user_cache.remember(user)
        elif not user.is_active:  # as simplejwt's own check on the row
            raise exceptions.AuthenticationFailed("User is inactive", code="user_inactive")
        return user


class LoginSessionMiddleware:
    """A browser session (admin, browsable API) ends with its LoginSession: revoked, expired,
    idle past the policy. After AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        sid = session.get(sessions.SID_CLAIM) if session is not None else None
        if sid and request.user.is_authenticated:
            try:
                sessions.check_session(sid, user_id=request.user.pk)
            except SessionEnded:
                django_logout(request)
        return self.get_response(request)
