"""Accounts API: registration, JWT auth, workspaces and their members, API keys."""

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django_ratelimit.decorators import ratelimit
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import login, services
from accounts.models import ApiKey, Membership, Role
from accounts.scoping import Actor, require_role, scope_to_workspaces, workspaces_for
from accounts.serializers import (
    AddMemberSerializer,
    ApiKeyCreatedSerializer,
    ApiKeySerializer,
    ChangeRoleSerializer,
    LoginResultSerializer,
    LoginSerializer,
    LogoutSerializer,
    MemberSerializer,
    MfaVerifySerializer,
    RefreshResultSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserSerializer,
    WorkspaceSerializer,
    WorkspaceSettingsSerializer,
)
from accounts.workspace_lifecycle_api import DELETE_SCHEMA, WorkspaceDeleteMixin
from config.ratelimit import client_ip


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
        tokens = login.tokens_after_registration(user=user, request=request)
        body = {**UserSerializer(user).data, **TokenPairSerializer(tokens).data}
        return Response(body, status=status.HTTP_201_CREATED)


@method_decorator(
    ratelimit(key=client_ip, rate=lambda g, r: settings.LOGIN_RATE, block=True), name="post"
)
class LoginView(APIView):
    """Username and password in; `access` and `refresh` tokens out, or, for a user with MFA
    on, `{"mfa_required": true, "mfa_token", "expires_in"}`: then POST the token and a code to
    /api/v3/auth/mfa/verify. Failures count towards the account's lockout (429)."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(request=LoginSerializer, responses={200: LoginResultSerializer})
    def post(self, request):
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = login.login_with_password(request=request, **data.validated_data)
        return Response(LoginResultSerializer(result).data)


class MfaVerifyView(APIView):
    """The second step of a login with MFA: the `mfa_token` and a TOTP `code` (or a
    `recovery_code`, usable once) -> the token pair."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_scope = "mfa"

    @extend_schema(request=MfaVerifySerializer, responses={200: TokenPairSerializer})
    def post(self, request):
        data = MfaVerifySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tokens = login.verify_mfa_login(request=request, **data.validated_data)
        return Response(TokenPairSerializer(tokens).data)


class RefreshView(APIView):
    """A refresh token in, a new access token and a new (rotated) refresh token out, while
    its login session lasts. A refresh token used twice revokes its whole session."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(request=RefreshSerializer, responses={200: RefreshResultSerializer})
    def post(self, request):
        data = RefreshSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tokens = login.refresh(request=request, raw_refresh=data.validated_data["refresh"])
        return Response(RefreshResultSerializer(tokens).data)


class LogoutView(APIView):
    """End a login session: the refresh token given (or, without one, the session of the
    access token the request carries) is blacklisted, and the session's access tokens stop
    working at once. This ends the caller's own credential."""

    permission_classes = [permissions.AllowAny]
    allowed_without_mfa = True
    ends_own_credential = True  # the API fuzzer logs in again after calling this

    @extend_schema(
        request=LogoutSerializer,
        responses={204: OpenApiResponse(description="Done")},
        extensions={"x-ends-own-credential": True},
    )
    def post(self, request):
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        raw = serializer.validated_data.get("refresh") or None
        if raw is None and not request.user.is_authenticated:
            raise serializers.ValidationError({"refresh": ["This field is required."]})
        login.logout(request=request, raw_refresh=raw)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WorkspaceViewSet(
    WorkspaceDeleteMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your workspaces. PATCH renames (admins); DELETE deletes (owners, not a personal
    workspace, `confirm` = its name; runs in progress are cancelled first)."""

    serializer_class = WorkspaceSerializer
    filterset_fields = ["is_personal"]
    ordering_fields = ["id", "name", "created_at"]

    def get_queryset(self):
        return workspaces_for(Actor.from_request(self.request)).prefetch_related("memberships")

    @DELETE_SCHEMA
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_create(self, serializer):
        actor = Actor.from_request(self.request)
        if actor.api_key is not None:
            raise PermissionDenied("API keys cannot create workspaces.")
        serializer.instance = services.create_workspace(
            creator=actor.user, name=serializer.validated_data["name"]
        )

    def perform_update(self, serializer):
        serializer.instance = services.rename_workspace(
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

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Adding a member or changing a role is for admins: settled before the body is parsed
        # (404 outside the workspace, 403 below admin). Leaving (DELETE of oneself) is not.
        if request.method in ("POST", "PUT", "PATCH"):
            require_role(Actor.from_request(request), self.workspace(), Role.ADMIN)

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
