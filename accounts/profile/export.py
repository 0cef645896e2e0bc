"""A user's own data, for `POST /api/v3/auth/me/export`: profile, memberships, login
sessions, API keys (never their secrets), invitations accepted, and the security events about
them. A read, but recorded as a security event."""

from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiKey, Invitation, LoginSession, Membership, User
from audit.events import SecurityEventKind
from audit.models import SecurityEvent
from audit.services import record_security_event

PROFILE = ("id", "username", "email", "display_name", "time_zone", "locale", "date_joined")


def _iso(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def _rows(queryset, fields) -> list[dict]:
    return [{k: _iso(v) for k, v in row.items()} for row in queryset.values(*fields)]


def export_own_data(*, user: User, request=None) -> dict:
    data = {
        "exported_at": timezone.now().isoformat(),
        "profile": {name: _iso(getattr(user, name)) for name in PROFILE}
        | {"last_login": _iso(user.last_login), "is_staff": user.is_staff},
        "memberships": _rows(
            Membership.objects.filter(user=user).order_by("id"),
            ["workspace_id", "workspace__name", "workspace__is_personal", "role", "created_at"],
        ),
        "sessions": _rows(
            LoginSession.objects.filter(user=user).order_by("-created_at"),
            [
                "id",
                "kind",
                "ip",
                "user_agent",
                "created_at",
                "last_seen_at",
                "expires_at",
                "revoked_at",
                "revoked_reason",
            ],
        ),
        "api_keys": _rows(
            ApiKey.objects.filter(created_by=user).order_by("-created"),
            ["prefix", "name", "workspace_id", "scopes", "created", "revoked", "last_used_at"],
        ),
        "invitations_accepted": _rows(
            Invitation.objects.filter(accepted_by=user).order_by("id"),
            ["workspace_id", "role", "email", "accepted_at"],
        ),
        "security_events": _rows(
            SecurityEvent.objects.filter(Q(user=user) | Q(actor=user)).order_by("created_at", "id"),
            [
                "kind",
                "severity",
                "username",
                "workspace_id",
                "ip",
                "user_agent",
                "details",
                "created_at",
                "count",
            ],
        ),
    }
    for row in data["sessions"]:
        row["id"] = str(row["id"])
    record_security_event(SecurityEventKind.ACCOUNT_EXPORTED, request=request, actor=user)
    return data
