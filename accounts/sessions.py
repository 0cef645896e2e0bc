"""Login sessions: one row per login, tied to its JWT refresh-token family by the `sid` claim
(rotation changes the token id, never the sid) or to a browser's Django session.

Every request made with an access token checks its session (`check_session`): the row is
the truth, a Redis entry caches the answer, and revocation overwrites that entry at once, so
the access tokens of a revoked or logged-out session stop working immediately, and a Redis
restart (an empty cache) only costs one database read per session. Last-seen is written at
most once a minute.
"""

import contextlib
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken

from accounts import policies
from accounts.errors import SessionEnded
from accounts.models import LoginSession, User
from config.client_ip import client_ip

logger = logging.getLogger(__name__)

SID_CLAIM = "sid"
LAST_SEEN_RESOLUTION = timedelta(seconds=60)
_ACTIVE, _REVOKED = "1", "0"


def _state_key(sid) -> str:
    return f"login-session:{sid}"


def _seen_key(sid) -> str:
    return f"login-session-seen:{sid}"


def _user_agent(request) -> str:
    meta = getattr(request, "META", None) or {}
    return meta.get("HTTP_USER_AGENT", "")[:300]


def _lifetime(user: User, kind: str) -> timedelta:
    if kind == LoginSession.Kind.TOKEN:
        lifetime = settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    else:
        lifetime = timedelta(seconds=settings.SESSION_COOKIE_AGE)
    policy = policies.effective_for_user(user.pk)
    if policy.session_lifetime_minutes:
        lifetime = min(lifetime, timedelta(minutes=policy.session_lifetime_minutes))
    return lifetime


@transaction.atomic
def start_session(
    *, user: User, request=None, kind: str = LoginSession.Kind.TOKEN, mfa_verified: bool = False
) -> LoginSession:
    now = timezone.now()
    return LoginSession.objects.create(
        user=user,
        kind=kind,
        ip=client_ip(request) if request is not None else None,
        user_agent=_user_agent(request),
        mfa_verified=mfa_verified,
        created_at=now,
        last_seen_at=now,
        expires_at=now + _lifetime(user, kind),
    )


def issue_tokens(*, user: User, request=None, mfa_verified: bool = False) -> dict:
    """A new session and its token pair: {"access", "refresh", "session_id"}."""
    session = start_session(user=user, request=request, mfa_verified=mfa_verified)
    refresh = RefreshToken.for_user(user)
    refresh[SID_CLAIM] = str(session.pk)
    # for_user() recorded the token before it had its sid; record the final text, which
    # _blacklist_family reads.
    OutstandingToken.objects.filter(jti=refresh["jti"]).update(token=str(refresh))
    return {"access": str(refresh.access_token), "refresh": str(refresh), "session_id": session.pk}


def _cache_state(sid, state: str, ttl: int | None = None) -> None:
    try:
        cache.set(_state_key(sid), state, ttl or int(_max_cache_seconds()))
    except Exception:  # Redis down: the database still answers (see check_session)
        logger.warning("login sessions: could not cache the state of a session")


def _max_cache_seconds() -> float:
    # An active session is re-read from the database at least this often (expiry, policies).
    return 300


def _load(sid) -> LoginSession | None:
    return LoginSession.objects.filter(pk=sid).first()


def check_session(sid, *, user_id: int | None = None, also: str | None = None):
    """Raise SessionEnded unless the session `sid` is active; refresh its last-seen (at most
    once a minute). Called for every request that carries a `sid` (HTTP and WebSocket).

    `also` names another cache key to read in the same round trip (the user's row, see
    `accounts.user_cache`); its value is returned, None when it is not cached."""
    try:
        sid = uuid.UUID(str(sid))
    except ValueError:
        raise SessionEnded() from None
    # One round trip on most requests: the session's state, whether last-seen is fresh, `also`.
    keys = [_state_key(sid), _seen_key(sid), *([also] if also else [])]
    try:
        found = cache.get_many(keys)
    except Exception:
        found = {}
    state = found.get(_state_key(sid))
    if state == _REVOKED:
        raise SessionEnded()
    if state == _ACTIVE and (_seen_key(sid) in found or not _due_for_touch(sid)):
        return found.get(also)
    session = _load(sid)
    if session is None or (user_id is not None and str(session.user_id) != str(user_id)):
        raise SessionEnded()
    now = timezone.now()
    if session.revoked_at is not None or session.expires_at <= now:
        _cache_state(sid, _REVOKED)
        raise SessionEnded()
    policy = policies.effective_for_user(session.user_id)
    if policy.idle_timeout_minutes and now - session.last_seen_at > timedelta(
        minutes=policy.idle_timeout_minutes
    ):
        revoke(session=session, reason="idle_timeout")
        raise SessionEnded("This session ended after being idle too long.")
    if now - session.last_seen_at >= LAST_SEEN_RESOLUTION:
        LoginSession.objects.filter(pk=sid).update(last_seen_at=now)
    with contextlib.suppress(Exception):  # the next minute's requests use the cache only
        cache.set(_seen_key(sid), 1, int(LAST_SEEN_RESOLUTION.total_seconds()))
    remaining = (session.expires_at - now).total_seconds()
    _cache_state(sid, _ACTIVE, ttl=max(1, int(min(remaining, _max_cache_seconds()))))
    return found.get(also)


def _due_for_touch(sid) -> bool:
    """True at most once a minute per session: then the row is read and last-seen written."""
    try:
        return bool(cache.add(_seen_key(sid), 1, int(LAST_SEEN_RESOLUTION.total_seconds())))
    except Exception:
        return True


def _end_browser_session(session: LoginSession) -> None:
    if session.kind != LoginSession.Kind.BROWSER or not session.session_key:
        return
    store: SessionBase = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(
        session.session_key
    )
    store.delete()


def revoke(*, session: LoginSession, reason: str = "revoked") -> LoginSession:
    """End a session: stored on the row, then the cache entry is overwritten after commit, so
    its access tokens fail from the next request."""
    with transaction.atomic():
        updated = LoginSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason=reason[:40]
        )
        if updated:
            session.refresh_from_db(fields=["revoked_at", "revoked_reason"])
            _blacklist_family(session)
            # At once, not on commit: a rollback then only logs someone out early (the safe
            # side), while waiting would let the session's tokens work a moment longer.
            _cache_state(session.pk, _REVOKED, ttl=int(_revoked_cache_seconds(session)))
            transaction.on_commit(lambda: _after_revoke(session))
    return session


def _after_revoke(session: LoginSession) -> None:
    _cache_state(session.pk, _REVOKED, ttl=int(_revoked_cache_seconds(session)))  # again: a
    # request between the first write and the commit may have cached the old row
    _end_browser_session(session)
    from accounts import signals  # noqa: PLC0415 - realtime listens; accounts imports nothing

    signals.session_revoked.send(sender=LoginSession, session=session)


def _revoked_cache_seconds(session: LoginSession) -> float:
    # Long enough to outlive every access token of the session.
    access = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()
    return max(access, 60) + 60


def _blacklist_family(session: LoginSession) -> None:
    """The session's outstanding refresh tokens can never be used again."""
    # simplejwt records every refresh token it issues; ours carry the sid in the token text,
    # not in a column, so the family is found through the user's unexpired tokens.
    outstanding = OutstandingToken.objects.filter(
        user_id=session.user_id, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    for token in outstanding:
        try:
            if str(UntypedToken(token.token, verify=False).get(SID_CLAIM)) == str(session.pk):
                BlacklistedToken.objects.get_or_create(token=token)
        except Exception:  # an unreadable row is nothing we can revoke
            logger.warning("login sessions: unreadable outstanding token %s", token.pk)


def revoke_all(*, user: User, except_sid=None, reason: str = "revoked") -> int:
    """End every active session of `user` but `except_sid`; returns how many ended."""
    sessions = LoginSession.objects.filter(user=user, revoked_at__isnull=True)
    if except_sid is not None:
        sessions = sessions.exclude(pk=except_sid)
    count = 0
    for session in sessions:
        revoke(session=session, reason=reason)
        count += 1
    return count


def sid_of(request) -> str | None:
    """The session id of the request's credential (JWT `sid` claim or browser session)."""
    token = getattr(request, "auth", None)
    if token is not None and hasattr(token, "payload"):
        return token.payload.get(SID_CLAIM)
    session = getattr(request, "session", None)
    return session.get(SID_CLAIM) if session is not None else None
