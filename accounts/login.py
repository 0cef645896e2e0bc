"""Logging in and out with tokens: password (through Django's `authenticate`, so axes counts
and locks), then the second factor for users with MFA, then a session and its token pair.

Django's `user_logged_in` / `user_logged_out` signals are sent as for a browser login, so
every listener (last_login, the audit trail) hears token logins too.
"""

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in, user_logged_out
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken

from accounts import lockout, mfa, sessions
from accounts.errors import InvalidCredentials, LockedOut, SessionEnded
from accounts.models import LoginSession, User
from audit.services import record_security_event

TOKEN_LOGIN_FLAG = "docchain_token_login"


def _http(request):
    """Django's HttpRequest under a DRF Request: axes flags, and listeners read, that one."""
    return getattr(request, "_request", request)


def login_with_password(*, request, username: str, password: str) -> dict:
    """Tokens, or {"mfa_required", "mfa_token", "expires_in"} for a user with MFA on.
    Raises InvalidCredentials (401) or LockedOut (429)."""
    http = _http(request)
    user = authenticate(request=http, username=username, password=password)
    if user is None:
        if lockout.is_locked_out(http):
            raise LockedOut(retry_after=lockout.retry_after_seconds(username))
        raise InvalidCredentials()
    if mfa.has_mfa(user):
        return {
            "mfa_required": True,
            "mfa_token": mfa.issue_mfa_token(user),
            "expires_in": settings.MFA_TOKEN_SECONDS,
        }
    return complete_login(user=user, request=request, mfa_verified=False)


def verify_mfa_login(*, request, mfa_token: str, code: str = "", recovery_code: str = "") -> dict:
    """The second step: a good code (or recovery code) for the mfa_token's user -> tokens."""
    user, nonce = mfa.read_mfa_token(mfa_token)
    mfa.verify_second_factor(user=user, code=code, recovery_code=recovery_code, request=request)
    mfa.spend_mfa_token(nonce)
    return complete_login(user=user, request=request, mfa_verified=True)


def complete_login(*, user: User, request, mfa_verified: bool) -> dict:
    tokens = sessions.issue_tokens(user=user, request=request, mfa_verified=mfa_verified)
    http = _http(request)
    setattr(http, TOKEN_LOGIN_FLAG, True)  # the browser-session receiver leaves it alone
    user_logged_in.send(sender=user.__class__, request=http, user=user)
    return tokens


def tokens_after_registration(*, user: User, request) -> dict:
    return complete_login(user=user, request=request, mfa_verified=False)


def refresh(*, request, raw_refresh: str) -> dict:
    """Rotate a refresh token of a live session. A refresh token used after it was rotated
    or logged out is a sign of theft: its whole session is revoked (auth.token_reuse)."""
    try:
        token = RefreshToken(raw_refresh)
    except TokenError as exc:
        _revoke_on_reuse(request, raw_refresh)
        raise SessionEnded(str(exc), code="token_not_valid") from exc
    sid = token.get(sessions.SID_CLAIM)
    if not sid:
        raise SessionEnded("This token belongs to no session; log in again.")
    sessions.check_session(sid, user_id=token.get("user_id"))
    serializer = TokenRefreshSerializer(data={"refresh": raw_refresh})
    serializer.is_valid(raise_exception=True)  # rotates, blacklists the old one
    return serializer.validated_data


def _revoke_on_reuse(request, raw_refresh: str) -> None:
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken  # noqa: PLC0415

    try:
        payload = UntypedToken(raw_refresh).payload  # signature and expiry, no blacklist
    except TokenError:
        return
    sid, jti = payload.get(sessions.SID_CLAIM), payload.get("jti")
    if not sid or not BlacklistedToken.objects.filter(token__jti=jti).exists():
        return
    session = LoginSession.objects.filter(pk=sid).first()
    if session is None:
        return
    was_active = session.revoked_at is None
    sessions.revoke(session=session, reason="token_reuse")
    if was_active:
        record_security_event(
            "auth.token_reuse",
            request=request,
            actor=session.user,
            details={"session_id": str(session.pk)},
        )


def logout(*, request, raw_refresh: str | None) -> None:
    """End the session of the refresh token given, or of the access token the request came
    with: its refresh tokens are blacklisted and its access tokens stop working at once."""
    sid = None
    user = None
    if raw_refresh:
        try:
            token = RefreshToken(raw_refresh)
        except TokenError as exc:
            raise SessionEnded(str(exc), code="token_not_valid") from exc
        sid = token.get(sessions.SID_CLAIM)
        user = User.objects.filter(pk=token.get("user_id")).first()
        token.blacklist()
    else:
        sid = sessions.sid_of(request)
        user = request.user if request.user.is_authenticated else None
    if sid:
        session = LoginSession.objects.filter(pk=sid).first()
        if session is not None:
            sessions.revoke(session=session, reason="logout")
    if user is not None:
        user_logged_out.send(sender=user.__class__, request=_http(request), user=user)
