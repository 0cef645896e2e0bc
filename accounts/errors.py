from config.errors import Conflict, DomainError, Forbidden


class InsufficientRole(Forbidden):
    code = "insufficient_role"


class LastOwner(Conflict):
    code = "last_owner"
    default_message = "A workspace must keep at least one owner."


class AlreadyMember(Conflict):
    code = "already_member"
    default_message = "That user is already a member of this workspace."


class UnknownUser(DomainError):
    code = "unknown_user"
    default_message = "No user has that username or email."


class Unauthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"


class SessionEnded(Unauthenticated):
    code = "session_revoked"
    default_message = "This session has ended (logged out, revoked or expired); log in again."


class TooManyRequests(DomainError):
    status_code = 429
    code = "rate_limited"
    default_message = "Too many attempts; retry later."

    def __init__(self, message: str | None = None, *, retry_after: float = 60, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after
        self.details = {**self.details, "retry_after_seconds": int(retry_after)}


class LockedOut(TooManyRequests):
    code = "account_locked"
    default_message = "Too many failed logins: this account is locked for a while."


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"
    default_message = "No active account found with the given credentials."


class InvalidMfaCode(DomainError):
    code = "invalid_mfa_code"
    default_message = "That code is wrong, expired or already used."


class MfaThrottled(TooManyRequests):
    code = "mfa_throttled"
    default_message = "Too many wrong codes: wait before trying again."


class MfaTokenInvalid(Unauthenticated):
    code = "mfa_token_invalid"
    default_message = "This mfa_token is invalid or already used; log in again."


class MfaTokenExpired(Unauthenticated):
    code = "mfa_token_expired"
    default_message = "This mfa_token has expired; log in again."


class MfaAlreadyEnabled(Conflict):
    code = "mfa_already_enabled"
    default_message = "Two-factor authentication is already on; disable it first."


class MfaNotEnabled(Conflict):
    code = "mfa_not_enabled"
    default_message = "Two-factor authentication is not on for this account."


class MfaEnrollmentRequired(Forbidden):
    code = "mfa_enrollment_required"
    default_message = (
        "A workspace you belong to requires two-factor authentication: enrol at "
        "/api/v3/security/mfa/totp first."
    )


class WrongPassword(DomainError):
    code = "invalid_password"
    default_message = "The current password is wrong."


class InvalidResetToken(DomainError):
    code = "invalid_reset_token"
    default_message = "This password reset link is invalid, expired or already used."


# --- profile, staff, invitations, workspace lifecycle -------------------------------------
class EmailInUse(Conflict):
    code = "email_in_use"
    default_message = "Another account already uses that email address."


class InvalidEmailChangeToken(DomainError):
    code = "invalid_email_change_token"
    default_message = "This email confirmation link is invalid, expired or already used."


class MfaCodeRequired(DomainError):
    code = "mfa_code_required"
    default_message = "Two-factor authentication is on: give a current `code` too."


class LastOwnerOfShared(Conflict):
    code = "last_owner_of_shared_workspaces"
    default_message = (
        "You are the last owner of shared workspaces: transfer their ownership or delete them "
        "first."
    )


class OwnAccount(Conflict):
    code = "own_account"
    default_message = "Staff cannot do this to their own account."


class PersonalWorkspace(Conflict):
    code = "personal_workspace"
    default_message = "A personal workspace cannot be deleted, left or given away."


class ConfirmationMismatch(DomainError):
    code = "confirmation_mismatch"
    default_message = "Type the workspace's exact name in `confirm` to delete it."


class NotAMember(DomainError):
    code = "not_a_member"
    default_message = "That user is not a member of this workspace."


class InvitationInvalid(DomainError):
    code = "invitation_invalid"
    default_message = "This invitation link is not valid."


class InvitationExpired(DomainError):
    status_code = 410
    code = "invitation_expired"
    default_message = "This invitation has expired; ask for a new one."


class InvitationUsed(Conflict):
    code = "invitation_used"
    default_message = "This invitation has already been accepted."


class InvitationRevoked(Conflict):
    code = "invitation_revoked"
    default_message = "This invitation was revoked."


class InvitationNotYours(Forbidden):
    code = "invitation_not_yours"
    default_message = "This invitation was sent to another email address."
