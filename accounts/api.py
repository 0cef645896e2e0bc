"""Accounts API: registration, JWT auth, workspaces and their members, API keys."""

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django_ratelimit.decorators import ratelimit
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts import services
from accounts.models import ApiKey, Membership, Role
from accounts.scoping import Actor, scope_to_workspaces, workspaces_for
from accounts.serializers import (
    AddMemberSerializer,
    ApiKeyCreatedSerializer,
    ApiKeySerializer,
    ChangeRoleSerializer,
    LogoutSerializer,
    MemberSerializer,
    RegisterSerializer,
    UserSerializer,
    WorkspaceSerializer,
    WorkspaceSettingsSerializer,
)
from audit.events import SecurityEventKind
from audit.services import record_security_event
from config.errors import DomainError
from config.ratelimit import client_ip


class InvalidRefreshToken(DomainError):
    status_code = 401
    code = "token_not_valid"


def _tokens_for(user) -> dict:
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


@method_decorator(
    ratelimit(key=client_ip, rate=lambda g, r: settings.REGISTER_RATE, block=True), name="post"
)
class RegisterView(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(request=RegisterSerializer, responses={201: UserSerializer})
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.register_user(**serializer.validated_data)
        body = {**UserSerializer(user).data, **_tokens_for(user)}
        return Response(body, status=status.HTTP_201_CREATED)


@method_decorator(
    ratelimit(key=client_ip, rate=lambda g, r: settings.LOGIN_RATE, block=True), name="post"
)
class LoginView(TokenObtainPairView):
    """Username and password in, `access` and `refresh` tokens out."""

    authentication_classes: list = []

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        # Failures arrive as Django's user_login_failed (from authenticate()); a success is
        # Django's user_logged_in too, so the audit and any other listener hear every login.
        user_logged_in.send(sender=type(serializer.user), request=request, user=serializer.user)
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


class RefreshView(TokenRefreshView):
    """A refresh token in, a new access token and a new (rotated) refresh token out."""

    authentication_classes: list = []


class LogoutView(APIView):
    """Blacklist the refresh token, so it can never mint another access token."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(request=LogoutSerializer, responses={204: OpenApiResponse(description="Done")})
    def post(self, request):
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            token = RefreshToken(serializer.validated_data["refresh"])
            token.blacklist()
        except TokenError as exc:
            raise InvalidRefreshToken(str(exc)) from exc
        user_id = str(token.payload.get(jwt_settings.USER_ID_CLAIM, ""))  # a string claim
        actor = int(user_id) if user_id.isdigit() else None
        record_security_event(SecurityEventKind.LOGOUT, request=request, actor=actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses=UserSerializer)
    def get(self, request):
        return Response(UserSerializer(request.user).data)


class WorkspaceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = WorkspaceSerializer
    filterset_fields = ["is_personal"]
    ordering_fields = ["id", "name", "created_at"]

    def get_queryset(self):
        return workspaces_for(Actor.from_request(self.request)).prefetch_related("memberships")

    def perform_create(self, serializer):
        actor = Actor.from_request(self.request)
        if actor.api_key is not None:
            raise PermissionDenied("API keys cannot create workspaces.")
        serializer.instance = services.create_workspace(
            creator=actor.user, name=serializer.validated_data["name"]
        )

    def perform_update(self, serializer):
        serializer.instance = services.update_workspace(
            actor=Actor.from_request(self.request),
            workspace=serializer.instance,
            name=serializer.validated_data.get("name", serializer.instance.name),
        )


class MemberViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Members of one workspace, addressed by user id."""

    serializer_class = MemberSerializer
    lookup_field = "user_id"
    filterset_fields = ["role"]

    def workspace(self):
        actor = Actor.from_request(self.request)
        return get_object_or_404(workspaces_for(actor), pk=self.kwargs["workspace_pk"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no URL kwargs
            return Membership.objects.none()
        return Membership.objects.filter(workspace=self.workspace()).select_related(
            "user", "workspace"
        )

    @extend_schema(request=AddMemberSerializer, responses={201: MemberSerializer})
    def create(self, request, workspace_pk=None):
        data = AddMemberSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.add_member(
            actor=Actor.from_request(request),
            workspace=self.workspace(),
            identifier=data.validated_data["user"],
            role=data.validated_data["role"],
        )
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ChangeRoleSerializer, responses=MemberSerializer)
    def update(self, request, *args, **kwargs):
        data = ChangeRoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.change_role(
            actor=Actor.from_request(request),
            membership=self.get_object(),
            role=data.validated_data["role"],
        )
        return Response(MemberSerializer(membership).data)

    def perform_destroy(self, instance):
        services.remove_member(actor=Actor.from_request(self.request), membership=instance)


class ApiKeyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Workspace API keys. Admins and owners manage them; the secret is shown once."""

    serializer_class = ApiKeySerializer
    lookup_field = "prefix"
    lookup_url_kwarg = "id"
    filterset_fields = ["workspace", "revoked"]

    def get_queryset(self):
        keys = ApiKey.objects.select_related("created_by", "workspace")
        return scope_to_workspaces(keys, Actor.from_request(self.request), min_role=Role.ADMIN)

    @extend_schema(request=ApiKeySerializer, responses={201: ApiKeyCreatedSerializer})
    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        api_key, secret = services.create_api_key(
            actor=Actor.from_request(request),
            workspace=data["workspace"],
            name=data["name"],
            scopes=data["scopes"],
            expires_at=data["expiry_date"],
        )
        api_key.key = secret
        body = ApiKeyCreatedSerializer(api_key, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.revoke_api_key(actor=Actor.from_request(self.request), api_key=instance)


class WorkspaceSettingsView(APIView):
    """A workspace's settings: members read them, admins change them (PATCH, any subset)."""

    def workspace(self):
        actor = Actor.from_request(self.request)
        return get_object_or_404(workspaces_for(actor), pk=self.kwargs["workspace_pk"])

    @extend_schema(responses=WorkspaceSettingsSerializer)
    def get(self, request, workspace_pk):
        found = services.settings_for(self.workspace())
        return Response(WorkspaceSettingsSerializer(found).data)

    @extend_schema(request=WorkspaceSettingsSerializer, responses=WorkspaceSettingsSerializer)
    def patch(self, request, workspace_pk):
        workspace = self.workspace()
        data = WorkspaceSettingsSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        updated = services.update_workspace_settings(
            actor=Actor.from_request(request), workspace=workspace, changes=data.validated_data
        )
        return Response(WorkspaceSettingsSerializer(updated).data)
