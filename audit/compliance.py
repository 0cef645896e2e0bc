"""The access review of one workspace: who is in it with which role, their MFA status and
last login, the API keys with their age and last use, inactive accounts, open alerts and the
workspace chain's verification result."""

from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.utils import timezone

from audit import chain
from audit.events import AlertStatus
from audit.models import SecurityAlert

MFA_NOT_AVAILABLE = "not available"


def _mfa_status(user) -> str:
    """ "enabled" (a confirmed django-otp device) or "disabled" once django-otp is installed
    (the security work); "not available" until then."""
    if not apps.is_installed("django_otp"):
        return MFA_NOT_AVAILABLE
    from django_otp import user_has_device

    return "enabled" if user_has_device(user, confirmed=True) else "disabled"


def access_review(workspace_id: int) -> dict:
    now = timezone.now()
    inactive_before = now - timedelta(days=settings.AUDIT_INACTIVE_DAYS)
    Workspace = apps.get_model("accounts", "Workspace")
    Membership = apps.get_model("accounts", "Membership")
    ApiKey = apps.get_model("accounts", "ApiKey")
    workspace = Workspace.objects.get(pk=workspace_id)
    members = []
    for membership in Membership.objects.filter(workspace_id=workspace_id).select_related("user"):
        user = membership.user
        last_login = user.last_login
        members.append(
            {
                "user_id": user.pk,
                "username": user.get_username(),
                "email": user.email,
                "role": membership.role,
                "member_since": membership.created_at,
                "is_active": user.is_active,
                "mfa": _mfa_status(user),
                "last_login": last_login,
                "inactive": last_login is None or last_login < inactive_before,
            }
        )
    keys = []
    for key in ApiKey.objects.filter(workspace_id=workspace_id).select_related("created_by"):
        keys.append(
            {
                "prefix": key.prefix,
                "name": key.name,
                "created_by": key.created_by.get_username(),
                "created": key.created,
                "age_days": (now - key.created).days,
                "last_used_at": key.last_used_at,
                "last_used_ip": key.last_used_ip,
                "revoked": key.revoked,
                "expires_at": key.expiry_date,
                "scopes": key.scopes,
            }
        )
    open_alerts = SecurityAlert.objects.filter(
        workspace_id=workspace_id, status=AlertStatus.OPEN
    ).values("id", "rule", "severity", "title", "created_at")
    problem = chain.verify_chain(chain.workspace_chain(workspace_id))
    return {
        "workspace": {"id": workspace.pk, "name": workspace.name},
        "generated_at": now,
        "inactive_after_days": settings.AUDIT_INACTIVE_DAYS,
        "members": members,
        "inactive_accounts": [m["username"] for m in members if m["inactive"]],
        "api_keys": keys,
        "open_alerts": list(open_alerts),
        "chain": {
            "verified": problem is None,
            "problem": problem.describe() if problem else None,
        },
    }


CSV_COLUMNS = [
    "section",
    "name",
    "role_or_scopes",
    "mfa",
    "last_activity",
    "age_days",
    "inactive_or_revoked",
    "detail",
]


def csv_rows(report: dict):
    yield CSV_COLUMNS
    for m in report["members"]:
        yield [
            "member",
            m["username"],
            m["role"],
            m["mfa"],
            m["last_login"] or "",
            "",
            m["inactive"],
            m["email"],
        ]
    for k in report["api_keys"]:
        yield [
            "api_key",
            f"{k['name']} ({k['prefix']})",
            " ".join(k["scopes"]),
            "",
            k["last_used_at"] or "",
            k["age_days"],
            k["revoked"],
            k["last_used_ip"] or "",
        ]
    for a in report["open_alerts"]:
        yield ["open_alert", a["title"], a["rule"], "", a["created_at"], "", "", a["severity"]]
    yield [
        "chain",
        f"w:{report['workspace']['id']}",
        "",
        "",
        "",
        "",
        not report["chain"]["verified"],
        report["chain"]["problem"] or "verified",
    ]
