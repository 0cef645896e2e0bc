"""Workspace lifecycle endpoints: delete (on the workspace viewset, confirmed by name),
`/workspaces/{id}/leave` and `/workspaces/{id}/transfer-ownership`."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import Role
from accounts.scoping import Actor, require_role, workspaces_for
from accounts.serializers import MemberSerializer


class DeleteWorkspaceSerializer(serializers.Serializer):
    confirm = serializers.CharField(
        max_length=200, help_text="The workspace's exact name (or give it as ?confirm=)."
    )


class TransferOwnershipSerializer(serializers.Serializer):
    user = serializers.IntegerField(min_value=1, help_text="The id of the member to make owner.")


DELETE_SCHEMA = extend_schema(
    tags=["workspaces"],
    parameters=[
        OpenApiParameter(
            "confirm", OpenApiTypes.STR, description="The workspace's exact name.", required=False
        )
    ],
    request=DeleteWorkspaceSerializer,
    responses={204: OpenApiResponse(description="Deleted, with everything in it.")},
)


class WorkspaceDeleteMixin:
    """DELETE a workspace: owners only, not a personal workspace, with its name as
    `confirm`. Runs in progress are cancelled first; everything in the workspace goes."""

    def perform_destroy(self, instance):
        confirm = self.request.query_params.get("confirm")
        if confirm is None and hasattr(self.request.data, "get"):
            confirm = self.request.data.get("confirm")
        services.delete_workspace(
            actor=Actor.from_request(self.request),
            workspace=instance,
            confirm=confirm if isinstance(confirm, str) else None,
        )


class _WorkspaceView(APIView):
    def workspace(self, request, workspace_pk):
        return get_object_or_404(workspaces_for(Actor.from_request(request)), pk=workspace_pk)


@extend_schema(tags=["workspaces"])
class LeaveWorkspaceView(_WorkspaceView):
    """Leave a workspace (not your personal one, and not as its last owner)."""

    throttle_scope = "members"
    any_member_may = True  # a write every role may make: to one's own membership

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Left")})
    def post(self, request, workspace_pk: int):
        workspace = self.workspace(request, workspace_pk)
        services.leave_workspace(actor=Actor.from_request(request), workspace=workspace)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["workspaces"])
class TransferOwnershipView(_WorkspaceView):
    """Owners hand a workspace to another member (`user`: their id), who becomes an owner;
    you become an admin."""

    throttle_scope = "members"

    @extend_schema(request=TransferOwnershipSerializer, responses=MemberSerializer)
    def post(self, request, workspace_pk: int):
        workspace = self.workspace(request, workspace_pk)
        actor = Actor.from_request(request)
        require_role(actor, workspace, Role.OWNER)  # before the body: 403 below owner
        data = TransferOwnershipSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.transfer_ownership(
            actor=actor, workspace=workspace, user_id=data.validated_data["user"]
        )
        return Response(MemberSerializer(membership).data)
