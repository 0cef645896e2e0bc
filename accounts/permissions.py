from rest_framework import exceptions, permissions

from accounts.models import ApiKey


class IsAuthenticatedWithScope(permissions.IsAuthenticated):
    """Authenticated; a request made with a read-only API key may only read. A view whose POST
    changes nothing (it computes an answer) says so with `reads_only = True`."""

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
        return True
