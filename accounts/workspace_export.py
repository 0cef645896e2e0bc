"""A workspace's export archive: a zip its owners ask for (`POST /workspaces/{id}/export`),
built by a background task (`accounts.export_workspace`, so it is a BackgroundTask record
with progress and a result) and downloaded by its owners.

The archive holds `workspace.json` (the workspace, its members and settings) and what the
other apps contribute through `accounts.workspace_hooks` (workflows: the workflows as YAML,
runs.json, documents as Markdown with their lineage, usage.csv). Files are written under
MEDIA_ROOT/workspace-exports/<workspace id>/."""

import json
import re
import uuid
import zipfile
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from accounts import workspace_hooks
from accounts.models import Membership, Role, Workspace, WorkspaceSettings
from accounts.scoping import Actor, require_role
from audit.events import SecurityEventKind
from audit.services import record_security_event
from config.errors import NotFound

EXPORT_DIR = "workspace-exports"
TASK_TYPE = "accounts.export_workspace"
NAME = re.compile(r"^workspace-\d+-[0-9a-f]{32}\.zip$")


def export_path(workspace_id: int, name: str) -> Path:
    return Path(settings.MEDIA_ROOT) / EXPORT_DIR / str(int(workspace_id)) / name


def download_url(workspace_id: int, name: str) -> str:
    return f"/api/v3/workspaces/{workspace_id}/exports/{name}"


def request_export(*, actor: Actor, workspace: Workspace, request=None):
    """Owners ask for an archive: a background task builds it. Returns the BackgroundTask."""
    from tasks.services import submit_task  # noqa: PLC0415 - tasks imports accounts

    require_role(actor, workspace, Role.OWNER)
    task = submit_task(
        actor=actor,
        task_type=TASK_TYPE,
        name=f"Export of {workspace.name}"[:200],
        payload={"workspace_id": workspace.pk},
        workspace=workspace,
    )
    record_security_event(
        SecurityEventKind.WORKSPACE_EXPORTED,
        request=request,
        actor=actor.user,
        workspace=workspace,
        details={"task_id": str(task.pk)},
    )
    return task


def _workspace_json(workspace: Workspace) -> str:
    members = Membership.objects.filter(workspace=workspace).order_by("id")
    found = WorkspaceSettings.objects.filter(workspace=workspace).first()
    data = {
        "id": workspace.pk,
        "name": workspace.name,
        "slug": workspace.slug,
        "created_at": workspace.created_at.isoformat(),
        "exported_at": timezone.now().isoformat(),
        "members": [
            {"user_id": m.user_id, "username": m.user.username, "role": m.role}
            for m in members.select_related("user")
        ],
        "settings": {
            "default_model": found.default_model,
            "default_parameters": found.default_parameters,
            "embedding_model": found.embedding_model,
        }
        if found
        else {},
    }
    return json.dumps(data, indent=2) + "\n"


def build_archive(*, actor: Actor, workspace_id: int, progress=None) -> dict:
    """Write the archive (the task's body); the submitter must still own the workspace."""
    require_role(actor, workspace_id, Role.OWNER)
    workspace = Workspace.objects.get(pk=workspace_id)
    name = f"workspace-{workspace.pk}-{uuid.uuid4().hex}.zip"
    target = export_path(workspace.pk, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    files = ["workspace.json"]
    partial = target.with_suffix(".part")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("workspace.json", _workspace_json(workspace))
        for path, text in workspace_hooks.export_files(workspace.pk):
            archive.writestr(path, text)
            files.append(path)
            if progress is not None:
                progress(len(files))
    partial.rename(target)  # a download never sees half an archive
    return {
        "file": f"{EXPORT_DIR}/{workspace.pk}/{name}",
        "download": download_url(workspace.pk, name),
        "files": len(files),
        "bytes": target.stat().st_size,
    }


def archive_for_download(*, actor: Actor, workspace: Workspace, name: str) -> Path:
    """The archive file, for the workspace's owners; NotFound for anything else."""
    require_role(actor, workspace, Role.OWNER)
    path = export_path(workspace.pk, name)
    if not NAME.match(name) or not path.is_file():
        raise NotFound("No such export.")
    return path
