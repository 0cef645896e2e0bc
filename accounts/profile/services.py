"""A user's own account: profile, email change (confirmed from the new address), deletion,
and an export of their own data. Each change is a security event."""

import zoneinfo

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts import mail, mfa, sessions, workspace_lifecycle
from accounts.errors import (
    EmailInUse,
    InvalidEmailChangeToken,
    LastOwnerOfShared,
    MfaCodeRequired,
    WrongPassword,
)
from accounts.models import Role, User, Workspace
from audit.events import SecurityEventKind
from audit.services import record_security_event

PROFILE_FIELDS = ("display_name", "time_zone", "locale")
_EMAIL_CHANGE_SALT = "accounts.profile.email_change"


def check_time_zone(value: str) -> str:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone name (e.g. Europe/Madrid).")
    return value


def check_locale(value: str) -> str:
    codes = {code.lower() for code, _ in settings.LANGUAGES}
    if value.lower() not in codes:
        raise ValidationError(f"{value!r} is not a supported locale (e.g. en, es, pt-br).")
    return value.lower()


_CHECKS = {"time_zone": check_time_zone, "locale": check_locale}


@transaction.atomic
def update_profile(*, user: User, changes: dict, request=None) -> User:
    """Set any of display name, time zone and locale; problems reported field by field."""
    problems: dict[str, list[str]] = {}
    changed = {}
    for name, value in changes.items():
        if name not in PROFILE_FIELDS:
            problems.setdefault(name, []).append("unknown field")
            continue
        try:
            value = _CHECKS[name](value) if name in _CHECKS else value
        except ValidationError as exc:
            problems.setdefault(name, []).extend(exc.messages)
            continue
        if getattr(user, name) != value:
            changed[name] = value
    if problems:
        raise ValidationError(problems)
    if changed:
        for name, value in changed.items():
            setattr(user, name, value)
        user.save(update_fields=list(changed))
        record_security_event(
            SecurityEventKind.ACCOUNT_UPDATED,
            request=request,
            actor=user,
            details={"fields": sorted(changed)},
        )
    return user


def _email_taken(email: str, *, besides: User) -> bool:
    return User.objects.filter(email__iexact=email).exclude(pk=besides.pk).exists()


def request_email_change(*, user: User, new_email: str, password: str, request=None) -> None:
    """Mail a confirmation link to the new address (the address changes when it is used) and
    tell the old address. The password proves it is the account's owner."""
    if not user.check_password(password):
        raise WrongPassword()
    if new_email.lower() == (user.email or "").lower():
        raise ValidationError({"email": ["That is already your email address."]})
    if _email_taken(new_email, besides=user):
        raise EmailInUse(details={"email": new_email})
    token = signing.dumps(
        {"uid": user.pk, "old": user.email, "new": new_email}, salt=_EMAIL_CHANGE_SALT
    )
    hours = settings.EMAIL_CHANGE_HOURS
    mail.send_on_commit(
        to=new_email,
        subject="Confirm your new Docchain email address",
        body=(
            f"{user.get_username()} asked to use this address for their Docchain account.\n\n"
            f"To confirm, POST the token to {settings.SITE_URL}/api/v3/auth/me/email/confirm, "
            f"or open:\n\n  {mail.link('/api/v3/auth/me/email/confirm', token=token)}\n\n"
            f'  {{"token": "{token}"}}\n\n'
            f"The link works once, for {hours} hours. If it was not you, ignore this mail."
        ),
    )
    if user.email:
        mail.send_on_commit(
            to=user.email,
            subject="Your Docchain email address is being changed",
            body=(
                f"Someone asked to change the email address of {user.get_username()} to "
                f"{new_email}. It changes once the new address confirms. If it was not you, "
                "change your password now."
            ),
        )
    record_security_event(
        SecurityEventKind.ACCOUNT_EMAIL_CHANGE_REQUESTED,
        request=request,
        actor=user,
        details={"new_email": new_email},
    )


@transaction.atomic
def confirm_email_change(*, token: str, request=None) -> User:
    """The token from the mail sets the new address (once: it names the old address, which
    no longer matches afterwards)."""
    try:
        data = signing.loads(
            token, salt=_EMAIL_CHANGE_SALT, max_age=settings.EMAIL_CHANGE_HOURS * 3600
        )
    except signing.BadSignature:
        raise InvalidEmailChangeToken() from None
    if not isinstance(data, dict) or not {"uid", "old", "new"} <= set(data):
        raise InvalidEmailChangeToken()
    user = User.objects.select_for_update().filter(pk=data["uid"], is_active=True).first()
    if user is None or user.email != data["old"]:
        raise InvalidEmailChangeToken()
    if _email_taken(data["new"], besides=user):
        raise EmailInUse(details={"email": data["new"]})
    user.email = data["new"]
    user.save(update_fields=["email"])
    record_security_event(
        SecurityEventKind.ACCOUNT_EMAIL_CHANGED,
        request=request,
        actor=user,
        details={"old_email": data["old"], "new_email": data["new"]},
    )
    return user


def delete_account(*, user: User, password: str, code: str = "", request=None) -> None:
    """Delete the account and its personal workspace, proven by the password (and a current
    MFA code when MFA is on). Refused while the user is the last owner of a shared
    workspace. Every session ends; open WebSocket connections close."""
    if not user.check_password(password):
        raise WrongPassword()
    if mfa.has_mfa(user):
        if not code:
            raise MfaCodeRequired()
        mfa.verify_second_factor(user=user, code=code, request=request)
    blocking = workspace_lifecycle.shared_workspaces_owned_alone(user)
    if blocking:
        names = ", ".join(w.name for w in blocking)
        raise LastOwnerOfShared(
            f"You are the last owner of: {names}. Transfer their ownership or delete them first.",
            details={"workspaces": [{"id": w.pk, "name": w.name} for w in blocking]},
        )
    personal = list(
        Workspace.objects.filter(
            is_personal=True, memberships__user=user, memberships__role=Role.OWNER
        )
    )
    for workspace in personal:
        workspace_lifecycle.stop_work(workspace)
    with transaction.atomic():
        for workspace in personal:
            workspace_lifecycle.delete_rows(workspace, actor_user=user)
        sessions.revoke_all(user=user, reason="account_deleted")
        record_security_event(
            SecurityEventKind.ACCOUNT_DELETED,
            request=request,
            actor=user,
            details={"user_id": user.pk, "username": user.get_username()},
        )
        user.delete()
