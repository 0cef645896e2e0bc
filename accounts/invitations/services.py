"""Invitations: owners and admins invite an email address to a workspace with a role; the
link, mailed to that address, carries a signed token (`?token=`) that works once, until the
invitation expires (INVITATION_DAYS). Only a digest of the token's nonce is stored.

Accepting: a signed-in user whose email is the invited address joins with the role; someone
without an account gives a username and password and the account is made and joins in one
step, with the invited address as its email."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import mail
from accounts.errors import (
    AlreadyMember,
    EmailInUse,
    InvitationExpired,
    InvitationInvalid,
    InvitationNotYours,
    InvitationRevoked,
    InvitationUsed,
)
from accounts.models import Invitation, Membership, Role, User, Workspace
from accounts.scoping import Actor, require_role
from audit.events import SecurityEventKind
from audit.services import record_security_event

_SALT = "accounts.invitation"
ACCEPT_PATH = "/api/v3/invitations/accept"


def _digest(nonce: str) -> str:
    return hashlib.sha256(f"docchain-invitation:{nonce}".encode()).hexdigest()


def _require_inviter(actor: Actor, workspace: Workspace, role: str) -> None:
    """Owners and admins invite; only owners invite owners."""
    require_role(actor, workspace, Role.OWNER if role == Role.OWNER else Role.ADMIN)


@transaction.atomic
def create_invitation(
    *, actor: Actor, workspace: Workspace, email: str, role: str, request=None
) -> Invitation:
    _require_inviter(actor, workspace, role)
    email = email.strip()
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise AlreadyMember(
            "Someone with that email address is already a member.", details={"email": email}
        )
    now = timezone.now()
    # A new invitation replaces a pending one to the same address (a resend).
    Invitation.objects.filter(
        workspace=workspace,
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
    ).update(revoked_at=now)
    nonce = secrets.token_urlsafe(24)
    invitation = Invitation.objects.create(
        workspace=workspace,
        email=email,
        role=role,
        invited_by=actor.user,
        nonce_digest=_digest(nonce),
        created_at=now,
        expires_at=now + timedelta(days=settings.INVITATION_DAYS),
    )
    token = signing.dumps({"i": invitation.pk, "n": nonce}, salt=_SALT)
    inviter = actor.user.display_name or actor.user.get_username()
    mail.send_on_commit(
        to=email,
        subject=f"{inviter} invited you to {workspace.name} on Docchain",
        body=(
            f"{inviter} invited you to the workspace {workspace.name!r} on Docchain as "
            f"{role}.\n\nTo accept, open:\n\n  {mail.link(ACCEPT_PATH, token=token)}\n\n"
            f"or POST the token to {settings.SITE_URL}{ACCEPT_PATH}: signed in, "
            '{"token"}; without an account, {"token", "username", "password"} makes one.\n\n'
            f'  {{"token": "{token}"}}\n\n'
            f"The link works once, until {invitation.expires_at:%Y-%m-%d %H:%M} UTC."
        ),
    )
    record_security_event(
        SecurityEventKind.INVITATION_CREATED,
        request=request,
        actor=actor.user,
        workspace=workspace,
        details={"invitation_id": invitation.pk, "email": email, "role": role},
    )
    return invitation


@transaction.atomic
def revoke_invitation(*, actor: Actor | None, invitation: Invitation, request=None) -> Invitation:
    """Owners and admins revoke (`actor=None`: the admin site, after its own permission
    checks; the event names the request's user)."""
    if actor is not None:
        _require_inviter(actor, invitation.workspace, invitation.role)
    if invitation.accepted_at is not None:
        raise InvitationUsed("This invitation was already accepted; remove the member instead.")
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        record_security_event(
            SecurityEventKind.INVITATION_REVOKED,
            request=request,
            actor=actor.user if actor is not None else None,
            workspace=invitation.workspace_id,
            details={"invitation_id": invitation.pk, "email": invitation.email},
        )
    return invitation


def read_invitation(token: str, *, lock: bool = False) -> Invitation:
    """The pending invitation a token names, or the domain error saying why not."""
    try:
        data = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        raise InvitationInvalid() from None
    if not isinstance(data, dict) or not isinstance(data.get("i"), int) or "n" not in data:
        raise InvitationInvalid()
    rows = Invitation.objects.select_related("workspace")
    if lock:
        rows = rows.select_for_update(of=("self",))
    invitation = rows.filter(pk=data["i"]).first()
    if invitation is None or not secrets.compare_digest(
        invitation.nonce_digest, _digest(str(data["n"]))
    ):
        raise InvitationInvalid()
    status = invitation.status
    if status == Invitation.Status.ACCEPTED:
        raise InvitationUsed()
    if status == Invitation.Status.REVOKED:
        raise InvitationRevoked()
    if status == Invitation.Status.EXPIRED:
        raise InvitationExpired(details={"expired_at": invitation.expires_at.isoformat()})
    return invitation


def _join(invitation: Invitation, user: User, request) -> Membership:
    if Membership.objects.filter(workspace=invitation.workspace, user=user).exists():
        raise AlreadyMember()
    membership = Membership.objects.create(
        workspace=invitation.workspace, user=user, role=invitation.role
    )
    invitation.accepted_at, invitation.accepted_by = timezone.now(), user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    record_security_event(
        SecurityEventKind.INVITATION_ACCEPTED,
        request=request,
        actor=user,
        workspace=invitation.workspace_id,
        details={"invitation_id": invitation.pk, "role": invitation.role},
    )
    record_security_event(
        SecurityEventKind.MEMBER_ADDED,
        request=request,
        actor=user,
        workspace=invitation.workspace_id,
        details={
            "member_id": user.pk,
            "member": user.get_username(),
            "role": invitation.role,
            "invitation_id": invitation.pk,
        },
    )
    return membership


@transaction.atomic
def accept_invitation(*, token: str, user: User, request=None) -> Membership:
    """The signed-in user joins, if the invitation was sent to their email address."""
    invitation = read_invitation(token, lock=True)
    if (user.email or "").lower() != invitation.email.lower():
        raise InvitationNotYours()
    return _join(invitation, user, request)


@transaction.atomic
def accept_with_signup(
    *, token: str, username: str, password: str, request=None
) -> tuple[User, Membership]:
    """Make an account for the invited address and join, in one step."""
    from accounts.services import register_user  # noqa: PLC0415 - services re-exports us

    invitation = read_invitation(token, lock=True)
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise EmailInUse(
            "An account already uses the invited address: log in and accept with the token.",
            details={"email": invitation.email},
        )
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": ["That username is taken."]})
    try:
        user = register_user(username=username, password=password, email=invitation.email)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    return user, _join(invitation, user, request)
