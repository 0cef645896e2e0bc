"""Changing and resetting passwords. A change or a reset ends the user's other sessions."""

from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts import passwords, sessions
from accounts.errors import InvalidResetToken, WrongPassword
from accounts.models import User
from audit.services import record_security_event


def change_password(*, user: User, old_password: str, new_password: str, request=None) -> int:
    """Set a new password (the old one proves it is the owner); every other session ends.
    Returns how many sessions ended."""
    if not user.check_password(old_password):
        raise WrongPassword()
    passwords.check(new_password, user)
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        current = sessions.sid_of(request) if request is not None else None
        ended = sessions.revoke_all(user=user, except_sid=current, reason="password_changed")
    http = getattr(request, "_request", request)
    if request is not None and getattr(request, "auth", None) is None and hasattr(http, "session"):
        # A browser session making the change stays logged in (Django checks a password hash).
        update_session_auth_hash(http, user)
    record_security_event(
        "password.changed", request=request, actor=user, details={"sessions_ended": ended}
    )
    return ended


def request_reset(*, email: str, request=None) -> None:
    """Mail a reset link to each active account with this address. The caller answers the
    same whether or not one exists."""
    users = [
        user
        for user in User.objects.filter(email__iexact=email, is_active=True)
        if user.has_usable_password()
    ]
    for user in users:
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        send_mail(
            subject="Reset your Docchain password",
            message=(
                f"Someone asked to reset the password of {user.get_username()}.\n\n"
                f"To choose a new one, POST to {settings.SITE_URL}/api/v3/security/password/"
                f"reset/confirm\n\n"
                f'  {{"uid": "{uid}", "token": "{token}", "new_password": "..."}}\n\n'
                "The link works once. If it was not you, ignore this mail."
            ),
            from_email=None,
            recipient_list=[user.email],
        )
        record_security_event("password.reset_requested", request=request, actor=user)


def confirm_reset(*, uid: str, token: str, new_password: str, request=None) -> User:
    """A valid token for that user sets the password (once: the token depends on the old
    password hash) and ends every session."""
    try:
        user = User.objects.get(pk=int(force_str(urlsafe_base64_decode(uid))), is_active=True)
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        raise InvalidResetToken() from None
    if not default_token_generator.check_token(user, token):
        raise InvalidResetToken()
    passwords.check(new_password, user)
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        ended = sessions.revoke_all(user=user, reason="password_reset")
    record_security_event(
        "password.reset", request=request, actor=user, details={"sessions_ended": ended}
    )
    return user
