"""`POST /workspaces/{id}/export` (owners: a background task builds the archive) and
`GET /workspaces/{id}/exports/{name}` (owners: the zip)."""

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import workspace_export
from accounts.models import Role
from accounts.scoping import Actor, require_role, workspaces_for


class ExportRequestedSerializer(serializers.Serializer):
    task_id = serializers.UUIDField()
    status = serializers.CharField()
    status_url = serializers.CharField(
        help_text="The background task: its `result.download` is the archive once it succeeded."
    )


class _OwnerView(APIView):
    def workspace(self, request, workspace_pk):
        workspace = get_object_or_404(workspaces_for(Actor.from_request(request)), pk=workspace_pk)
        require_role(Actor.from_request(request), workspace, Role.OWNER)
        return workspace


@extend_schema(tags=["workspaces"])
class WorkspaceExportView(_OwnerView):
    """Export the workspace (owners): a background task builds a zip of its workflows
    (YAML), runs, documents (Markdown with their lineage) and AI usage; follow it at
    `status_url`, then download `result.download`."""

    throttle_scope = "exports"

    @extend_schema(request=None, responses={202: ExportRequestedSerializer})
    def post(self, request, workspace_pk: int):
        workspace = self.workspace(request, workspace_pk)
        task = workspace_export.request_export(
            actor=Actor.from_request(request), workspace=workspace, request=request
        )
        body = {
            "task_id": task.pk,
            "status": task.status,
            "status_url": f"/api/v3/background/tasks/{task.pk}/",
        }
        return Response(ExportRequestedSerializer(body).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["workspaces"])
class WorkspaceExportDownloadView(_OwnerView):
    """An export archive of the workspace (owners)."""

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request, workspace_pk: int, name: str):
        workspace = self.workspace(request, workspace_pk)
        path = workspace_export.archive_for_download(
            actor=Actor.from_request(request), workspace=workspace, name=name
        )
        return FileResponse(path.open("rb"), as_attachment=True, filename=name)
