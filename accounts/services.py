"""The accounts app's verbs. Each is one transaction and raises domain errors."""

from datetime import datetime

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.crypto import get_random_string
from django.utils.text import slugify

from accounts import workspace_settings
from accounts.errors import AlreadyMember, LastOwner, UnknownUser
from accounts.models import ROLE_RANK, ApiKey, Membership, Role, User, Workspace, WorkspaceSettings
from accounts.scoping import Actor, require_role
from accounts.workspace_lifecycle import (
    delete_workspace,
    leave_workspace,
    rename_workspace,
    transfer_ownership,
)
from audit.events import SecurityEventKind
from audit.services import record_security_event


def _unique_slug(name: str) -> str:
    base = slugify(name)[:120] or "workspace"
    slug = base
    while Workspace.objects.filter(slug=slug).exists():
        slug = f"{base}-{get_random_string(6).lower()}"
    return slug


@transaction.atomic
def register_user(*, username: str, password: str, email: str = "") -> User:
    """Create a user and their personal workspace, which they own."""
    user = User(username=username, email=email)
    validate_password(password, user)  # raises ValidationError, reported on `password`
    user.set_password(password)
    user.save()
    create_workspace(creator=user, name=f"{username}'s workspace", is_personal=True)
    return user


@transaction.atomic
def create_workspace(*, creator: User, name: str, is_personal: bool = False) -> Workspace:
    workspace = Workspace.objects.create(
        name=name, slug=_unique_slug(name), is_personal=is_personal, created_by=creator
    )
    Membership.objects.create(user=creator, workspace=workspace, role=Role.OWNER)
    return workspace


def update_workspace(*, actor: Actor, workspace: Workspace, name: str) -> Workspace:
    return rename_workspace(actor=actor, workspace=workspace, name=name)


def personal_workspace(user: User) -> Workspace | None:
    return Workspace.objects.filter(
        is_personal=True, memberships__user=user, memberships__role=Role.OWNER
    ).first()


def _find_user(identifier: str) -> User:
    matches = User.objects.filter(
        Q(username__iexact=identifier) | Q(email__iexact=identifier), is_active=True
    )
    user = matches.first()
    if user is None or matches.count() > 1:
        raise UnknownUser(details={"user": identifier})
    return user


def _forbid_losing_last_owner(membership: Membership) -> None:
    if membership.role != Role.OWNER:
        return
    owners = Membership.objects.select_for_update().filter(
        workspace_id=membership.workspace_id, role=Role.OWNER
    )
    if owners.count() <= 1:
        raise LastOwner()


def _require_manage(actor: Actor, workspace: Workspace, role: str) -> None:
    """Owners and admins manage members; only owners may grant or take away ownership."""
    actor_role = require_role(actor, workspace, Role.ADMIN)
    if role == Role.OWNER and actor_role != Role.OWNER:
        require_role(actor, workspace, Role.OWNER)


@transaction.atomic
def add_member(*, actor: Actor, workspace: Workspace, identifier: str, role: str) -> Membership:
    _require_manage(actor, workspace, role)
    user = _find_user(identifier)
    membership, created = Membership.objects.get_or_create(
        user=user, workspace=workspace, defaults={"role": role}
    )
    if not created:
        raise AlreadyMember(details={"user": identifier})
    record_security_event(
        SecurityEventKind.MEMBER_ADDED,
        actor=actor.user,
        workspace=workspace,
        details={"member_id": user.pk, "member": user.get_username(), "role": role},
    )
    return membership


@transaction.atomic
def change_role(*, actor: Actor, membership: Membership, role: str) -> Membership:
    _require_manage(actor, membership.workspace, max_role(role, membership.role))
    if role != Role.OWNER:
        _forbid_losing_last_owner(membership)
    old_role, membership.role = membership.role, role
    membership.save(update_fields=["role"])
    if old_role != role:
        record_security_event(
            SecurityEventKind.MEMBER_ROLE_CHANGED,
            actor=actor.user,
            workspace=membership.workspace_id,
            details={
                "member_id": membership.user_id,
                "member": membership.user.get_username(),
                "role": role,
                "old_role": old_role,
            },
        )
    return membership


@transaction.atomic
def remove_member(*, actor: Actor, membership: Membership) -> None:
    """Admins remove members; anyone may leave. The last owner can do neither."""
    if membership.user_id != actor.user.pk:
        _require_manage(actor, membership.workspace, membership.role)
    _forbid_losing_last_owner(membership)
    membership.delete()
    record_security_event(
        SecurityEventKind.MEMBER_REMOVED,
        actor=actor.user,
        workspace=membership.workspace_id,
        details={
            "member_id": membership.user_id,
            "member": membership.user.get_username(),
            "role": membership.role,
            "left": membership.user_id == actor.user.pk,
        },
    )


def max_role(a: str, b: str) -> str:
    return a if ROLE_RANK[a] >= ROLE_RANK[b] else b


@transaction.atomic
def create_api_key(
    *,
    actor: Actor,
    workspace: Workspace,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns it with its secret, which is never stored and never shown again."""
    require_role(actor, workspace, Role.ADMIN)
    api_key, secret = ApiKey.objects.create_key(
        name=name,
        workspace=workspace,
        created_by=actor.user,
        scopes=sorted(set(scopes)),
        expiry_date=expires_at,
    )
    record_security_event(
        SecurityEventKind.APIKEY_CREATED,
        actor=actor.user,
        workspace=workspace,
        details={"prefix": api_key.prefix, "name": name, "scopes": api_key.scopes},
    )
    return api_key, secret


@transaction.atomic
def revoke_api_key(*, actor: Actor, api_key: ApiKey) -> ApiKey:
    require_role(actor, api_key.workspace_id, Role.ADMIN)
    if not api_key.revoked:
        api_key.revoked = True
        api_key.save(update_fields=["revoked"])
        record_security_event(
            SecurityEventKind.APIKEY_REVOKED,
            actor=actor.user,
            workspace=api_key.workspace_id,
            details={"prefix": api_key.prefix, "name": api_key.name},
        )
    return api_key


def settings_for(workspace: Workspace | int) -> WorkspaceSettings:
    """The workspace's settings row, created with the defaults on first read."""
    workspace_id = workspace if isinstance(workspace, int) else workspace.pk
    found, _ = WorkspaceSettings.objects.get_or_create(workspace_id=workspace_id)
    return found


SETTINGS_FIELDS = (
    "default_model",
    "default_parameters",
    "embedding_model",
    "run_retention_days",
    "document_retention_days",
    "usage_retention_days",
)


@transaction.atomic
def update_workspace_settings(
    *, actor: Actor, workspace: Workspace, changes: dict
) -> WorkspaceSettings:
    """Admins change a workspace's settings; each field is checked by the validators the
    owning apps registered (accounts.workspace_settings), problems reported field by field."""
    require_role(actor, workspace, Role.ADMIN)
    current = WorkspaceSettings.objects.select_for_update().get(pk=settings_for(workspace).pk)
    problems: dict[str, list[str]] = {}
    for name, value in changes.items():
        if name not in SETTINGS_FIELDS:
            problems.setdefault(name, []).append("unknown setting")
            continue
        try:
            setattr(current, name, workspace_settings.clean(name, value))
        except ValidationError as exc:
            problems.setdefault(name, []).extend(exc.messages)
    if problems:
        raise ValidationError(problems)
    current.save()
    return current


CLI_USERNAME = "cli"


@transaction.atomic
def local_cli_user() -> User:
    """The command line's own user, for a database with nobody to act as (`runworkflow` on a
    fresh database): created the first time with its personal workspace, and no password, so
    it cannot log in."""
    user, created = User.objects.get_or_create(username=CLI_USERNAME)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        create_workspace(creator=user, name=f"{CLI_USERNAME}'s workspace", is_personal=True)
    return user


# The verbs that live beside what they change, re-exported: this module is the one place to
# find an accounts write. (Imported last: they call the verbs above.)
from accounts.invitations.services import (  # noqa: E402
    accept_invitation,
    accept_with_signup,
    create_invitation,
    revoke_invitation,
)
from accounts.profile.services import (  # noqa: E402
    confirm_email_change,
    delete_account,
    request_email_change,
    update_profile,
)
from accounts.staff.services import (  # noqa: E402
    deactivate_user,
    logout_everywhere,
    reactivate_user,
    reset_mfa,
    unlock_user,
)

__all__ = [
    "accept_invitation",
    "accept_with_signup",
    "create_invitation",
    "revoke_invitation",
    "add_member",
    "change_role",
    "confirm_email_change",
    "create_api_key",
    "create_workspace",
    "deactivate_user",
    "delete_account",
    "delete_workspace",
    "leave_workspace",
    "local_cli_user",
    "logout_everywhere",
    "reactivate_user",
    "register_user",
    "remove_member",
    "rename_workspace",
    "request_email_change",
    "reset_mfa",
    "revoke_api_key",
    "settings_for",
    "transfer_ownership",
    "unlock_user",
    "update_profile",
    "update_workspace",
    "update_workspace_settings",
]
