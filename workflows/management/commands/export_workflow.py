"""Export a workflow's current definition as YAML or JSON."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Role
from accounts.scoping import require_role
from workflows import authoring
from workflows.management.cli import add_actor_arguments, resolve_actor
from workflows.models import Workflow


class Command(BaseCommand):
    help = "Write a workflow's definition (by id or name) to a file or standard output."

    def add_arguments(self, parser):
        parser.add_argument("workflow", help="The workflow's id, or its name in the workspace.")
        parser.add_argument("file", nargs="?", help="Write here (default: standard output).")
        parser.add_argument(
            "--format", choices=["yaml", "json"], help="Default: from the file name, else yaml."
        )
        add_actor_arguments(parser)

    def handle(self, *args, workflow: str, file, format, user: str, workspace, **options):
        actor, target = resolve_actor(user, workspace)
        found = _find(workflow, target)
        require_role(actor, found.workspace_id, Role.VIEWER)
        fmt = format or ("json" if file and file.endswith(".json") else "yaml")
        definition = authoring.export_definition(found, fmt=fmt)
        text = definition if fmt == "yaml" else json.dumps(definition, indent=2) + "\n"
        if file:
            Path(file).write_text(text, encoding="utf-8")
            self.stdout.write(f"Wrote '{found.name}' (version {found.version}) to {file}.")
        else:
            self.stdout.write(text, ending="")


def _find(identifier: str, workspace) -> Workflow:
    workflows = Workflow.objects.filter(workspace=workspace)
    found = (
        workflows.filter(pk=int(identifier)).first()
        if identifier.isdigit()
        else workflows.filter(name=identifier).order_by("-updated_at").first()
    )
    if found is None:
        raise CommandError(f"No workflow '{identifier}' in workspace '{workspace.slug}'.")
    return found
