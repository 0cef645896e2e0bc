"""`/api/v3/users/`: staff user management. To anyone else every path here is a 404 (not a
403 that would confirm the API exists for them)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import ApiKey
from accounts.permissions import IsAuthenticatedWithScope
from accounts.staff import selectors, services
from accounts.staff.serializers import StaffActionResultSerializer, StaffUserSerializer
from config.errors import NotFound


class StaffOnly(permissions.BasePermission):
    """Staff pass; everyone else, signed in or not, is told there is nothing here."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        staff = user and user.is_authenticated and user.is_staff and user.is_active
        if staff and not isinstance(request.auth, ApiKey):  # a workspace key is no staff login
            return True
        if not (user and user.is_authenticated):
            return False  # 401: log in first
        raise NotFound()


@extend_schema(tags=["users"])
class StaffUserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Every account (staff only): filter by `is_active`, `is_staff`, `workspace`; search
    with `q` (username, email, display name). The actions each record a security event."""

    serializer_class = StaffUserSerializer
    permission_classes = [IsAuthenticatedWithScope, StaffOnly]
    filterset_class = selectors.UserFilter
    ordering_fields = ["id", "username", "date_joined", "last_login"]

    def get_queryset(self):
        return selectors.users_for_staff().prefetch_related("memberships__workspace")

    def _result(self, user, **extra):
        user = self.get_queryset().get(pk=user.pk)
        return Response(StaffActionResultSerializer({"user": user, **extra}).data)

    def _do(self, verb, result_key=None):
        user = self.get_object()
        outcome = verb(staff=self.request.user, user=user, request=self.request)
        return self._result(user, **({result_key: outcome} if result_key else {}))

    @extend_schema(request=None, responses=StaffActionResultSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        """The user cannot log in; their sessions end and open connections close."""
        return self._do(services.deactivate_user)

    @extend_schema(request=None, responses=StaffActionResultSerializer)
    @action(detail=True, methods=["post"])
    def reactivate(self, request, pk=None):
        return self._do(services.reactivate_user)

    @extend_schema(request=None, responses=StaffActionResultSerializer)
    @action(detail=True, methods=["post"])
    def unlock(self, request, pk=None):
        """Clear the failed logins that locked the account."""
        return self._do(services.unlock_user, "attempts_cleared")

    @extend_schema(request=None, responses=StaffActionResultSerializer)
    @action(detail=True, methods=["post"], url_path="reset-mfa")
    def reset_mfa(self, request, pk=None):
        """Remove the user's authenticator and recovery codes; their sessions end."""
        return self._do(services.reset_mfa, "had_mfa")

    @extend_schema(request=None, responses=StaffActionResultSerializer)
    @action(detail=True, methods=["post"], url_path="logout-everywhere")
    def logout_everywhere(self, request, pk=None):
        """End every login session of the user (force logout)."""
        return self._do(services.logout_everywhere, "sessions_ended")
