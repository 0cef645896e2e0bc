"""Load the example workflows from examples/ into a workspace, once (by name)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workflows import authoring, services
from workflows.management.cli import add_actor_arguments, resolve_actor
from workflows.models import Workflow


class Command(BaseCommand):
    help = "Import every examples/*.yaml into the workspace unless a workflow has its name."

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=str(Path(settings.BASE_DIR) / "examples"))
        add_actor_arguments(parser)

    def handle(self, *args, dir: str, user: str, workspace, **options):
        actor, target = resolve_actor(user, workspace)
        files = sorted(Path(dir).glob("*.y*ml"))
        if not files:
            raise CommandError(f"No example workflows in {dir}.")
        added = 0
        for path in files:
            definition = authoring.read_definition(path.read_text(encoding="utf-8"))
            name = definition.get("name") if isinstance(definition, dict) else None
            if name and Workflow.objects.filter(workspace=target, name=name).exists():
                continue
            services.create_workflow(actor=actor, workspace=target, definition=definition)
            added += 1
        self.stdout.write(
            f"Example workflows: {added} added, {len(files) - added} already there "
            f"(workspace '{target.slug}')."
        )
