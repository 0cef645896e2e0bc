"""`/api/v3/auth/me`: read and change your profile, change your email (confirmed from the
new address), delete your account, export your own data."""

from django.conf import settings
from django.utils.decorators import method_decorator
from django_ratelimit.decorators import ratelimit
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey
from accounts.permissions import IsAuthenticatedWithScope
from accounts.profile import export, services
from accounts.profile.serializers import (
    AccountDeleteSerializer,
    EmailChangeRequestedSerializer,
    EmailChangeSerializer,
    OwnDataSerializer,
    ProfileUpdateSerializer,
    TokenSerializer,
)
from accounts.serializers import UserSerializer
from config.errors import Forbidden
from config.ratelimit import client_ip


class NotWithApiKey(permissions.BasePermission):
    """The account itself is changed, deleted or exported with the user's own login, never
    with a workspace's API key."""

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS or not isinstance(request.auth, ApiKey):
            return True
        raise Forbidden(
            "API keys cannot change, delete or export the account; log in.", code="api_key_refused"
        )


@extend_schema(tags=["profile"])
class MeView(APIView):
    """Your account. PATCH changes the profile (display name, time zone, locale); DELETE
    deletes the account and your personal workspace, given your password (and an MFA code
    when MFA is on); refused (409) while you are the last owner of a shared workspace."""

    allowed_without_mfa = True
    throttle_scope = "account"
    permission_classes = [IsAuthenticatedWithScope, NotWithApiKey]

    @extend_schema(responses=UserSerializer)
    def get(self, request):
        return Response(UserSerializer(request.user).data)

    @extend_schema(request=ProfileUpdateSerializer, responses=UserSerializer)
    def patch(self, request):
        data = ProfileUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.update_profile(
            user=request.user, changes=data.validated_data, request=request
        )
        return Response(UserSerializer(user).data)

    @extend_schema(
        request=AccountDeleteSerializer,
        responses={204: OpenApiResponse(description="Deleted")},
        extensions={"x-ends-own-credential": True},
    )
    def delete(self, request):
        data = AccountDeleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.delete_account(user=request.user, request=request, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["profile"])
class EmailChangeView(APIView):
    """Ask to change your email: a confirmation link goes to the new address (the change
    happens when it is used) and the old address is told."""

    throttle_scope = "account"
    permission_classes = [IsAuthenticatedWithScope, NotWithApiKey]

    @extend_schema(request=EmailChangeSerializer, responses={202: EmailChangeRequestedSerializer})
    def post(self, request):
        data = EmailChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.request_email_change(
            user=request.user,
            new_email=data.validated_data["email"],
            password=data.validated_data["password"],
            request=request,
        )
        body = {
            "detail": "A confirmation link is on its way to the new address.",
            "pending_email": data.validated_data["email"],
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)


@method_decorator(
    ratelimit(key=client_ip, rate=lambda g, r: settings.TOKEN_CONFIRM_RATE, block=True),
    name="post",
)
@extend_schema(tags=["profile"])
class EmailConfirmView(APIView):
    """The token from the confirmation mail sets the new address (once)."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(request=TokenSerializer, responses=UserSerializer)
    def post(self, request):
        data = TokenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.confirm_email_change(token=data.validated_data["token"], request=request)
        return Response(UserSerializer(user).data)


@extend_schema(tags=["profile"])
class MeExportView(APIView):
    """Everything the service keeps about you: profile, memberships, login sessions, API keys
    (never secrets), invitations accepted and the security events about you (JSON)."""

    allowed_without_mfa = True
    reads_only = True
    permission_classes = [IsAuthenticatedWithScope, NotWithApiKey]

    @extend_schema(request=None, responses=OwnDataSerializer)
    def post(self, request):
        data = export.export_own_data(user=request.user, request=request)
        response = Response(data)
        response["Content-Disposition"] = 'attachment; filename="my-docchain-data.json"'
        return response
