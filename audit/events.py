"""The names of security events and their default severities (the interface other apps call:
/work/AUDIT_INTERFACE.md). Values are stable strings: they are stored and exported."""

from django.db import models


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


SEVERITY_RANK = {severity: rank for rank, severity in enumerate(Severity.values)}


class SecurityEventKind(models.TextChoices):
    LOGIN_SUCCEEDED = "auth.login_succeeded"
    LOGIN_FAILED = "auth.login_failed"
    LOGOUT = "auth.logout"
    TOKEN_REUSE = "auth.token_reuse"
    LOCKED_OUT = "auth.locked_out"
    UNLOCKED = "auth.unlocked"
    MFA_ENABLED = "mfa.enabled"
    MFA_DISABLED = "mfa.disabled"
    MFA_FAILED = "mfa.failed"
    MFA_RECOVERY_CODE_USED = "mfa.recovery_code_used"
    PASSWORD_CHANGED = "password.changed"
    PASSWORD_RESET_REQUESTED = "password.reset_requested"
    PASSWORD_RESET = "password.reset"
    SESSION_REVOKED = "session.revoked"
    APIKEY_CREATED = "apikey.created"
    APIKEY_USED_NEW_IP = "apikey.used_new_ip"
    APIKEY_REVOKED = "apikey.revoked"
    MEMBER_ADDED = "member.added"
    MEMBER_REMOVED = "member.removed"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    ACCESS_DENIED = "access.denied"
    ACCESS_RATE_LIMITED = "access.rate_limited"
    ACCESS_CROSS_WORKSPACE_PROBE = "access.cross_workspace_probe"
    AUDIT_VERIFY_FAILED = "audit.verify_failed"
    # Accounts: a user's own changes, staff actions on users, invitations, workspaces.
    ACCOUNT_UPDATED = "account.updated"
    ACCOUNT_EMAIL_CHANGE_REQUESTED = "account.email_change_requested"
    ACCOUNT_EMAIL_CHANGED = "account.email_changed"
    ACCOUNT_DELETED = "account.deleted"
    ACCOUNT_EXPORTED = "account.exported"
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    USER_MFA_RESET = "user.mfa_reset"
    USER_LOGGED_OUT_EVERYWHERE = "user.logged_out_everywhere"
    INVITATION_CREATED = "invitation.created"
    INVITATION_REVOKED = "invitation.revoked"
    INVITATION_ACCEPTED = "invitation.accepted"
    WORKSPACE_RENAMED = "workspace.renamed"
    WORKSPACE_DELETED = "workspace.deleted"
    WORKSPACE_OWNERSHIP_TRANSFERRED = "workspace.ownership_transferred"
    WORKSPACE_EXPORTED = "workspace.exported"


K = SecurityEventKind
DEFAULT_SEVERITY: dict[str, str] = {
    K.LOGIN_SUCCEEDED: Severity.INFO,
    K.LOGIN_FAILED: Severity.WARNING,
    K.LOGOUT: Severity.INFO,
    K.TOKEN_REUSE: Severity.HIGH,
    K.LOCKED_OUT: Severity.HIGH,
    K.UNLOCKED: Severity.INFO,
    K.MFA_ENABLED: Severity.INFO,
    K.MFA_DISABLED: Severity.WARNING,
    K.MFA_FAILED: Severity.WARNING,
    K.MFA_RECOVERY_CODE_USED: Severity.WARNING,
    K.PASSWORD_CHANGED: Severity.INFO,
    K.PASSWORD_RESET_REQUESTED: Severity.INFO,
    K.PASSWORD_RESET: Severity.WARNING,
    K.SESSION_REVOKED: Severity.INFO,
    K.APIKEY_CREATED: Severity.INFO,
    K.APIKEY_USED_NEW_IP: Severity.WARNING,
    K.APIKEY_REVOKED: Severity.INFO,
    K.MEMBER_ADDED: Severity.INFO,
    K.MEMBER_REMOVED: Severity.INFO,
    K.MEMBER_ROLE_CHANGED: Severity.WARNING,
    K.ACCESS_DENIED: Severity.WARNING,
    K.ACCESS_RATE_LIMITED: Severity.WARNING,
    K.ACCESS_CROSS_WORKSPACE_PROBE: Severity.WARNING,
    K.AUDIT_VERIFY_FAILED: Severity.CRITICAL,
    K.ACCOUNT_UPDATED: Severity.INFO,
    K.ACCOUNT_EMAIL_CHANGE_REQUESTED: Severity.INFO,
    K.ACCOUNT_EMAIL_CHANGED: Severity.WARNING,
    K.ACCOUNT_DELETED: Severity.WARNING,
    K.ACCOUNT_EXPORTED: Severity.INFO,
    K.USER_DEACTIVATED: Severity.WARNING,
    K.USER_REACTIVATED: Severity.INFO,
    K.USER_MFA_RESET: Severity.HIGH,
    K.USER_LOGGED_OUT_EVERYWHERE: Severity.WARNING,
    K.INVITATION_CREATED: Severity.INFO,
    K.INVITATION_REVOKED: Severity.INFO,
    K.INVITATION_ACCEPTED: Severity.INFO,
    K.WORKSPACE_RENAMED: Severity.INFO,
    K.WORKSPACE_DELETED: Severity.WARNING,
    K.WORKSPACE_OWNERSHIP_TRANSFERRED: Severity.WARNING,
    K.WORKSPACE_EXPORTED: Severity.INFO,
}

# Kinds an attacker can produce at will: one row per actor-or-IP per window, with a count,
# so a flood of them costs us a counter increment, not a row (AUDIT_COUNT_WINDOW_SECONDS).
HIGH_VOLUME_KINDS = frozenset(
    {K.ACCESS_DENIED, K.ACCESS_RATE_LIMITED, K.ACCESS_CROSS_WORKSPACE_PROBE}
)

# Account events whose `username` names the account they concern (the user it resolves to
# is the event's subject, so the event lands in that user's chain and activity).
USERNAME_KINDS = frozenset({K.LOGIN_FAILED, K.LOCKED_OUT, K.UNLOCKED, K.MFA_FAILED})


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
