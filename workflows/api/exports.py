"""Downloads of document exports (the `documents.export` task type writes them)."""

import re

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from accounts.models import Role
from accounts.scoping import Actor, require_role
from config.errors import NotFound
from workflows.task_types import export_path

NAME = re.compile(r"^[a-z]+-\d+-[0-9a-f]{32}\.zip$")


class ExportDownloadView(APIView):
    """`GET /exports/{workspace}/{name}`: the zip, for members of the workspace."""

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request, workspace_pk, name: str):
        workspace_pk = int(workspace_pk)  # the route's regex made sure it is digits
        require_role(Actor.from_request(request), workspace_pk, Role.VIEWER)
        path = export_path(workspace_pk, name)
        if not NAME.match(name) or not path.is_file():
            raise NotFound("No such export.")
        return FileResponse(path.open("rb"), as_attachment=True, filename=name)
