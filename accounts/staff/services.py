"""What staff do to users (`/api/v3/users/`): deactivate, reactivate, unlock, reset MFA,
log out everywhere. Each is a security event with the staff member as actor and the user as
the subject.

Deactivating ends every login session through the one revocation mechanism
(`accounts.sessions`); saving `is_active=False` also tells realtime, which closes every open
WebSocket connection of the user (`account.disabled`), API-key connections included.
"""

from django.db import transaction

from accounts import lockout, sessions
from accounts.errors import OwnAccount
from accounts.models import RecoveryCode, TOTPDevice, User
from audit.events import SecurityEventKind
from audit.services import record_security_event


def _event(kind, *, staff: User, user: User, request=None, **details) -> None:
    record_security_event(
        kind,
        request=request,
        actor=staff,
        details={"user_id": user.pk, "username": user.get_username(), **details},
    )


def _not_self(staff: User, user: User) -> None:
    if staff.pk == user.pk:
        raise OwnAccount()


@transaction.atomic
def deactivate_user(*, staff: User, user: User, request=None) -> User:
    _not_self(staff, user)
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])  # realtime closes their connections on commit
        ended = sessions.revoke_all(user=user, reason="deactivated")
        _event(
            SecurityEventKind.USER_DEACTIVATED,
            staff=staff,
            user=user,
            request=request,
            sessions_ended=ended,
        )
    return user


@transaction.atomic
def reactivate_user(*, staff: User, user: User, request=None) -> User:
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
        _event(SecurityEventKind.USER_REACTIVATED, staff=staff, user=user, request=request)
    return user


def unlock_user(*, staff: User, user: User, request=None) -> int:
    """Clear the user's failed logins (axes): they can log in again at once."""
    return lockout.unlock(request=request, actor=staff, username=user.get_username())


@transaction.atomic
def reset_mfa(*, staff: User, user: User, request=None) -> bool:
    """Remove the user's authenticator and recovery codes (they lost their device): they log
    in with the password alone and enrol again. Their sessions end."""
    _not_self(staff, user)
    removed, _ = TOTPDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    ended = sessions.revoke_all(user=user, reason="mfa_reset")
    _event(
        SecurityEventKind.USER_MFA_RESET,
        staff=staff,
        user=user,
        request=request,
        had_mfa=bool(removed),
        sessions_ended=ended,
    )
    return bool(removed)


def logout_everywhere(*, staff: User, user: User, request=None) -> int:
    """End every login session of the user: their tokens and browser sessions stop working
    and their open WebSocket connections close. Returns how many ended."""
    with transaction.atomic():
        ended = sessions.revoke_all(user=user, reason="staff_logout")
        _event(
            SecurityEventKind.USER_LOGGED_OUT_EVERYWHERE,
            staff=staff,
            user=user,
            request=request,
            sessions_ended=ended,
        )
    return ended
