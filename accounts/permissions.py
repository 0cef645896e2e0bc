from rest_framework import exceptions, permissions

from accounts import mfa, policies
from accounts.errors import MfaEnrollmentRequired
from accounts.models import ApiKey


class IsAuthenticatedWithScope(permissions.IsAuthenticated):
    """Authenticated; a request made with a read-only API key may only read (a view whose POST
    changes nothing, it computes an answer, says so with `reads_only = True`); a member of a
    workspace that requires MFA and has none can only enrol (views that allow it say
    `allowed_without_mfa = True`)."""

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        api_key = request.auth if isinstance(request.auth, ApiKey) else None
        writes = request.method not in permissions.SAFE_METHODS and not getattr(
            view, "reads_only", False
        )
        if api_key and writes and not api_key.can_write:
            raise exceptions.PermissionDenied(
                "This API key is read-only; it needs the 'write' scope.", code="insufficient_scope"
            )
        if not getattr(view, "allowed_without_mfa", False) and _mfa_missing(request.user):
            raise MfaEnrollmentRequired()
        return True


def _mfa_missing(user) -> bool:
    return policies.effective_for_user(user.pk).require_mfa and not mfa.has_mfa(user)


class IsStaff(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)
