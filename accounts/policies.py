"""Workspace security policies: saving them, and the rules that follow from them.

A person's rules (MFA required, minimum password length, session lifetime and idle timeout)
are the strictest among all the workspaces they belong to. A workspace's own rules (allowed IP
ranges, API key maximum age) apply to its keys and objects. Answers are cached in Redis and
dropped whenever a policy or a membership changes.
"""

import contextlib
import ipaddress
import logging
from dataclasses import asdict, dataclass, field

from django.core.cache import cache
from django.db import transaction

from accounts.models import Membership, Role, Workspace, WorkspaceSecurityPolicy

logger = logging.getLogger(__name__)
CACHE_SECONDS = 300
_VERSION_KEY = "security-policy:version"


@dataclass(frozen=True)
class PersonalPolicy:
    require_mfa: bool = False
    min_password_length: int | None = None
    session_lifetime_minutes: int | None = None
    idle_timeout_minutes: int | None = None
    # Workspaces whose objects are visible only from these networks: {workspace_id: [cidr]}
    ip_rules: dict = field(default_factory=dict)


def invalidate() -> None:
    """Forget every cached answer (a policy or a membership changed)."""
    try:
        cache.incr(_VERSION_KEY)
    except ValueError:
        cache.set(_VERSION_KEY, 2, None)
    except Exception:  # Redis down: entries expire on their own within CACHE_SECONDS
        logger.warning("security policies: could not invalidate the cache")


def _strictest(values):
    values = [v for v in values if v]
    return min(values) if values else None


def _compute(user_id: int) -> PersonalPolicy:
    rows = list(
        WorkspaceSecurityPolicy.objects.filter(workspace__memberships__user_id=user_id).values(
            "workspace_id",
            "require_mfa",
            "min_password_length",
            "session_lifetime_minutes",
            "idle_timeout_minutes",
            "allowed_cidrs",
        )
    )
    return PersonalPolicy(
        require_mfa=any(r["require_mfa"] for r in rows),
        min_password_length=max([r["min_password_length"] or 0 for r in rows], default=0) or None,
        session_lifetime_minutes=_strictest(r["session_lifetime_minutes"] for r in rows),
        idle_timeout_minutes=_strictest(r["idle_timeout_minutes"] for r in rows),
        ip_rules={r["workspace_id"]: r["allowed_cidrs"] for r in rows if r["allowed_cidrs"]},
    )


def _cached(key: str, compute):
    """`compute()`, cached under `key` while the version is current: one round trip for both
    (this runs on every API request), and `invalidate` drops every entry at once."""
    try:
        found = cache.get_many([_VERSION_KEY, key])
    except Exception:  # Redis down: read from the database
        return compute()
    version, entry = found.get(_VERSION_KEY), found.get(key)
    if version is not None and entry is not None and entry["version"] == version:
        return entry["value"]
    with contextlib.suppress(Exception):  # Redis down: computed again next time
        if version is None:  # read before computing: a change meanwhile makes the entry stale
            cache.add(_VERSION_KEY, 1, None)
            version = cache.get(_VERSION_KEY)
    value = compute()
    if version is not None:
        with contextlib.suppress(Exception):
            cache.set(key, {"version": version, "value": value}, CACHE_SECONDS)
    return value


def effective_for_user(user_id: int | None) -> PersonalPolicy:
    if user_id is None:
        return PersonalPolicy()
    rules = _cached(f"security-policy:user:{user_id}", lambda: asdict(_compute(user_id)))
    return PersonalPolicy(**rules)


def ip_allowed(cidrs: list[str], ip: str | None) -> bool:
    if not cidrs:
        return True
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for cidr in cidrs:
        try:
            if address in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:  # saved by hand in the admin: an invalid range matches nothing
            continue
    return False


def hidden_workspace_ids(user_id: int | None, ip: str | None) -> set[int]:
    """Workspaces of the user whose allowed ranges exclude `ip`: they read as not there."""
    if user_id is None:
        return set()
    rules = effective_for_user(user_id).ip_rules
    return {int(ws) for ws, cidrs in rules.items() if not ip_allowed(cidrs, ip)}


def policy_of(workspace: Workspace | int) -> WorkspaceSecurityPolicy:
    workspace_id = workspace if isinstance(workspace, int) else workspace.pk
    return WorkspaceSecurityPolicy.objects.filter(workspace_id=workspace_id).first() or (
        WorkspaceSecurityPolicy(workspace_id=workspace_id)
    )


def normalize_cidrs(values: list[str]) -> list[str]:
    """Each range in canonical form; raises ValueError naming the first invalid one."""
    normalized = []
    for value in values:
        try:
            normalized.append(str(ipaddress.ip_network(str(value).strip(), strict=False)))
        except ValueError:
            raise ValueError(value) from None
    return normalized


@transaction.atomic
def set_policy(*, actor, workspace: Workspace, **rules) -> WorkspaceSecurityPolicy:
    """Create or update the workspace's policy (owners and admins)."""
    from accounts.scoping import require_role  # noqa: PLC0415 - scoping reads policies

    require_role(actor, workspace, Role.ADMIN)
    policy, _ = WorkspaceSecurityPolicy.objects.select_for_update().get_or_create(
        workspace=workspace
    )
    for name, value in rules.items():
        setattr(policy, name, value)
    policy.updated_by = actor.user
    policy.save()
    transaction.on_commit(invalidate)
    return policy


def members_without_mfa(workspace: Workspace) -> int:
    return (
        Membership.objects.filter(workspace=workspace)
        .exclude(user__totp_device__confirmed=True)
        .count()
    )


def workspace_rules(workspace_id: int) -> dict:
    """The rules on a workspace's own keys: {"api_key_max_age_days", "allowed_cidrs"}."""

    def compute() -> dict:
        row = (
            WorkspaceSecurityPolicy.objects.filter(workspace_id=workspace_id)
            .values("api_key_max_age_days", "allowed_cidrs")
            .first()
        )
        return row or {"api_key_max_age_days": None, "allowed_cidrs": []}

    return _cached(f"security-policy:workspace:{workspace_id}", compute)
