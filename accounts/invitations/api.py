"""Invitations: `/api/v3/workspaces/{id}/invitations` (owners and admins: invite, list,
revoke) and `/api/v3/invitations/accept` (anyone holding the mailed token)."""

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django_ratelimit.decorators import ratelimit
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import login
from accounts.errors import Unauthenticated
from accounts.invitations import selectors, services
from accounts.invitations.serializers import (
    AcceptedSerializer,
    AcceptSerializer,
    InvitationCreateSerializer,
    InvitationListQuerySerializer,
    InvitationSerializer,
    InvitationTokenQuerySerializer,
)
from accounts.models import Invitation, Role
from accounts.scoping import Actor, require_role, workspaces_for
from config.ratelimit import client_ip


def _user_or_ip(group, request) -> str:
    user = getattr(request, "user", None)
    return (
        f"user:{user.pk}"
        if user is not None and user.is_authenticated
        else client_ip(group, request)
    )


@extend_schema(tags=["invitations"])
@method_decorator(
    ratelimit(key=_user_or_ip, rate=lambda g, r: settings.INVITATION_RATE, block=True),
    name="create",
)
class InvitationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """A workspace's invitations (owners and admins). POST sends one by email (only owners
    invite owners; inviting again replaces a pending one); the list shows pending ones unless
    `status` says otherwise; DELETE revokes."""

    serializer_class = InvitationSerializer
    throttle_scope = "members"

    def workspace(self):
        actor = Actor.from_request(self.request)
        return get_object_or_404(workspaces_for(actor), pk=self.kwargs["workspace_pk"])

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Inviting and revoking are for admins: settled before the body is parsed (404
        # outside the workspace, 403 below admin).
        if request.method not in permissions.SAFE_METHODS:
            require_role(Actor.from_request(request), self.workspace(), Role.ADMIN)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no URL kwargs
            return Invitation.objects.none()
        query = InvitationListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        wanted = query.validated_data["status"] if self.action == "list" else "all"
        return selectors.invitations_of(
            actor=Actor.from_request(self.request), workspace=self.workspace(), status=wanted
        )

    @extend_schema(parameters=[InvitationListQuerySerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=InvitationCreateSerializer, responses={201: InvitationSerializer})
    def create(self, request, workspace_pk=None):
        actor, workspace = Actor.from_request(request), self.workspace()
        # Settled before the body is parsed: 404 outside the workspace, 403 below admin.
        require_role(actor, workspace, Role.ADMIN)
        data = InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = services.create_invitation(
            actor=actor,
            workspace=workspace,
            request=request,
            **data.validated_data,
        )
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.revoke_invitation(
            actor=Actor.from_request(self.request), invitation=instance, request=self.request
        )


_token_tries = ratelimit(key=client_ip, rate=lambda g, r: settings.TOKEN_CONFIRM_RATE, block=True)


@extend_schema(tags=["invitations"])
@method_decorator(_token_tries, name="get")
@method_decorator(_token_tries, name="post")
class AcceptInvitationView(APIView):
    """GET `?token=` shows what an invitation offers (workspace, role, address, expiry).
    POST `{"token"}` accepts it for the signed-in user (the invited address must be theirs);
    `{"token", "username", "password"}` makes an account for the invited address, accepts,
    and returns its tokens."""

    permission_classes = [permissions.AllowAny]
    throttle_scope = "members"

    @extend_schema(parameters=[InvitationTokenQuerySerializer], responses=InvitationSerializer)
    def get(self, request):
        query = InvitationTokenQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        invitation = services.read_invitation(query.validated_data["token"])
        return Response(InvitationSerializer(invitation).data)

    @extend_schema(
        request=AcceptSerializer,
        responses={
            200: AcceptedSerializer,
            201: OpenApiResponse(AcceptedSerializer, description="An account was made."),
        },
    )
    def post(self, request):
        data = AcceptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if "username" in values:
            user, membership = services.accept_with_signup(request=request, **values)
            tokens = login.tokens_after_registration(user=user, request=request)
            code = status.HTTP_201_CREATED
        else:
            if not request.user.is_authenticated:
                services.read_invitation(values["token"])  # a bad token says so first
                raise Unauthenticated(
                    "Log in to accept, or give a username and password to make an account."
                )
            user, tokens, code = request.user, {}, status.HTTP_200_OK
            membership = services.accept_invitation(
                token=values["token"], user=user, request=request
            )
        body = {
            "workspace": membership.workspace_id,
            "workspace_name": membership.workspace.name,
            "role": membership.role,
            "user": user,
            **tokens,
        }
        return Response(AcceptedSerializer(body).data, status=code)
