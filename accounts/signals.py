"""Signals accounts sends, and its receivers of Django's.

- `session_revoked` (sender=LoginSession, session=...): after commit, when a login session
  ends (logout, revocation, password change, token reuse, idle timeout). realtime closes the
  session's open WebSocket connections on it.
- A browser login (admin, browsable API) gets a LoginSession, as a token login does; its
  logout revokes it.
- A policy or membership change drops the cached effective policies; a user's save or
  delete drops the cached row (`accounts.user_cache`).
"""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal

session_revoked = Signal()


def _browser_login(sender, request=None, user=None, **kwargs) -> None:
    from accounts import login, mfa, sessions  # noqa: PLC0415
    from accounts.models import LoginSession  # noqa: PLC0415

    if request is None or getattr(request, login.TOKEN_LOGIN_FLAG, False):
        return
    store = getattr(request, "session", None)
    if store is None:
        return
    if store.session_key is None:
        store.save()
    session = sessions.start_session(
        user=user, request=request, kind=LoginSession.Kind.BROWSER, mfa_verified=mfa.has_mfa(user)
    )
    LoginSession.objects.filter(pk=session.pk).update(session_key=store.session_key)
    store[sessions.SID_CLAIM] = str(session.pk)


def _browser_logout(sender, request=None, user=None, **kwargs) -> None:
    from accounts import login, sessions  # noqa: PLC0415
    from accounts.models import LoginSession  # noqa: PLC0415

    if request is None or getattr(request, login.TOKEN_LOGIN_FLAG, False):
        return
    store = getattr(request, "session", None)
    sid = store.get(sessions.SID_CLAIM) if store is not None else None
    session = LoginSession.objects.filter(pk=sid).first() if sid else None
    if session is not None:
        sessions.revoke(session=session, reason="logout")


def _policy_inputs_changed(sender, **kwargs) -> None:
    from accounts import policies  # noqa: PLC0415

    policies.invalidate()


def _user_changed(sender, instance, **kwargs) -> None:
    from accounts import user_cache  # noqa: PLC0415

    user_cache.forget(instance.pk)


def install() -> None:
    from accounts.models import Membership, User, WorkspaceSecurityPolicy  # noqa: PLC0415

    post_save.connect(_user_changed, sender=User, dispatch_uid="accounts.user_cache.save")
    post_delete.connect(_user_changed, sender=User, dispatch_uid="accounts.user_cache.delete")

    user_logged_in.connect(_browser_login, dispatch_uid="accounts.browser_login")
    user_logged_out.connect(_browser_logout, dispatch_uid="accounts.browser_logout")
    for model in (Membership, WorkspaceSecurityPolicy):
        post_save.connect(_policy_inputs_changed, sender=model, dispatch_uid=f"policy.{model}")
        post_delete.connect(_policy_inputs_changed, sender=model, dispatch_uid=f"policy-d.{model}")
