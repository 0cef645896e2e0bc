"""Import a workflow definition file (YAML or JSON) as a new workflow."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from config.errors import DomainError
from workflows import services
from workflows.management.cli import add_actor_arguments, resolve_actor


class Command(BaseCommand):
    help = "Import a workflow from a YAML or JSON definition file ('-' reads standard input)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The definition file, or '-' for standard input.")
        parser.add_argument("--status", choices=["draft", "active", "archived"])
        add_actor_arguments(parser)

    def handle(self, *args, file: str, status: str | None, user: str, workspace, **options):
        actor, target = resolve_actor(user, workspace)
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        try:
            workflow = services.import_workflow(
                actor=actor, workspace=target, source=text, status=status
            )
        except DomainError as exc:
            raise CommandError(_describe(exc)) from exc
        self.stdout.write(
            f"Imported workflow {workflow.pk} '{workflow.name}' "
            f"({workflow.steps.count()} steps) into workspace '{target.slug}'."
        )


def _describe(exc: DomainError) -> str:
    lines = [exc.message]
    for where, problems in (exc.details or {}).items():
        if isinstance(problems, dict):
            for name, messages in problems.items():
                lines.extend(f"  {where}.{name}: {message}" for message in messages)
        elif isinstance(problems, list):
            lines.extend(f"  {where}: {message}" for message in problems)
    return "\n".join(lines)
