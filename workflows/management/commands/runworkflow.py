"""`manage.py runworkflow FILE_NAME_OR_ID --input key=value ... [--inline] [--priority high]
[--out DIR] [--user NAME]`: run a workflow and show it happen.

With --inline the engine runs every step in this process (no broker, no worker; plain SQLite
is enough), through the same functions a worker calls. Without it the run is queued for the
workers and followed live from the database.

A FILE is imported into the user's personal workspace the first time; run again, it reuses
that workflow (the one of the same name), saving the file as its next version if it changed.
Without --user the command acts as `admin` (the demo user), or, on a database without one, as
a local `cli` user created the first time.
"""

import json
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts import services as accounts_services
from accounts.models import User
from accounts.scoping import Actor
from accounts.services import personal_workspace
from config.errors import DomainError
from workflows import authoring, selectors, services
from workflows.definition import load_text
from workflows.engine.dispatch import CELERY
from workflows.engine.inline import InlineDispatcher
from workflows.management.cli import DEFAULT_USER
from workflows.models import (
    RUN_FINISHED,
    Priority,
    Run,
    RunStatus,
    StepRun,
    StepStatus,
    Trigger,
    Workflow,
)

FINISHED_STEPS = {StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED}


def parse_inputs(pairs: list[str], definition: dict) -> dict:
    """key=value pairs, each value read as its declared input type."""
    types = {spec["name"]: spec.get("type", "string") for spec in definition.get("inputs", [])}
    values: dict = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--input takes key=value, not {pair!r}")
        kind = types.get(key, "string")
        try:
            if kind == "integer":
                values[key] = int(raw)
            elif kind == "number":
                values[key] = float(raw)
            elif kind == "boolean":
                if raw.lower() not in ("true", "false", "yes", "no", "1", "0"):
                    raise ValueError(raw)
                values[key] = raw.lower() in ("true", "yes", "1")
            else:
                values[key] = raw
        except ValueError as exc:
            raise CommandError(f"--input {key}: {raw!r} is not a valid {kind}") from exc
    return values


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


class Progress:
    """Reports steps as they finish: a bar on a terminal, one plain line each otherwise."""

    def __init__(self, run: Run, out, tty: bool):
        self.run = run
        self.out = out
        self.tty = tty
        self.seen: dict[str, str] = {}
        self.total = StepRun.objects.filter(run=run).count()

    def update(self) -> Run:
        rows = StepRun.objects.filter(run=self.run).order_by("id")
        for row in rows:
            if self.seen.get(row.key) == row.status:
                continue
            self.seen[row.key] = row.status
            if row.status in FINISHED_STEPS or row.status == StepStatus.WAITING:
                self._report(row)
        return Run.objects.get(pk=self.run.pk)

    def _report(self, row: StepRun) -> None:
        done = sum(1 for status in self.seen.values() if status in FINISHED_STEPS)
        detail = f"{row.key} {row.status}"
        if row.latency_ms is not None:
            detail += f" ({row.latency_ms:.0f} ms)"
        if row.error:
            detail += f": {row.error}"
        if self.tty:
            width = 30
            filled = int(width * done / max(self.total, 1))
            bar = "#" * filled + "." * (width - filled)
            self.out.write(f"\r[{bar}] {done}/{self.total} {detail}"[:200].ljust(80))
            self.out.flush()
        else:
            self.out.write(f"step {done}/{self.total}: {detail}\n")

    def close(self) -> None:
        if self.tty:
            self.out.write("\n")


class Command(BaseCommand):
    help = "Run a workflow (a definition file or a workflow id) and print its documents."

    def add_arguments(self, parser):
        parser.add_argument("workflow", help="a YAML/JSON definition file, or a workflow id")
        parser.add_argument("--input", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--inline", action="store_true", help="run in this process")
        parser.add_argument("--priority", choices=Priority.values, default=Priority.NORMAL)
        parser.add_argument("--out", help="write the documents to this directory as markdown")
        parser.add_argument(
            "--user", help=f"run as this user (default {DEFAULT_USER}, else a local 'cli' user)"
        )
        parser.add_argument("--timeout", type=float, default=600.0, help="seconds to follow")

    def handle(self, *args, **options):
        actor = Actor(self._user(options["user"]))
        workflow = self._workflow(actor, options["workflow"])
        definition = authoring.current_definition(workflow)
        inputs = parse_inputs(options["input"], definition)
        tty = hasattr(self.stdout, "isatty") and self.stdout.isatty()
        try:
            if options["inline"]:
                dispatcher = InlineDispatcher()
                run = self._start(actor, workflow, inputs, options, dispatcher=dispatcher)
                progress = Progress(run, self.stdout, tty)
                dispatcher.drain(after_each=lambda _id: progress.update())
                run = progress.update()
            else:
                run = self._start(actor, workflow, inputs, options)
                progress = Progress(run, self.stdout, tty)
                run = self._follow(progress, options["timeout"])
        except DomainError as exc:
            details = f" {json.dumps(exc.details)}" if exc.details else ""
            raise CommandError(f"{exc.message}{details}") from exc
        progress.close()
        self._finish(run, options["out"])

    def _user(self, username: str | None):
        if username is None:
            return (
                User.objects.filter(username=DEFAULT_USER).first()
                or accounts_services.local_cli_user()
            )
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        return user

    def _workflow(self, actor: Actor, target: str) -> Workflow:
        path = Path(target)
        if path.is_file():
            try:
                return self._import(actor, path)
            except DomainError as exc:
                raise CommandError(f"{path}: {exc.message} {json.dumps(exc.details)}") from exc
        visible = selectors.workflows_for(actor)
        workflow = (
            visible.filter(pk=int(target)).first()
            if target.isdigit()
            else visible.filter(name=target).first()
        )
        if workflow is None:
            raise CommandError(
                f"{target!r} is neither a definition file nor a workflow (id or name) in "
                f"{actor.user}'s workspaces."
            )
        return workflow

    def _import(self, actor: Actor, path: Path) -> Workflow:
        """The file's workflow: imported the first time, then found again by its name in the
        user's workspace (and saved as its next version if the file changed)."""
        data = load_text(path.read_text(encoding="utf-8"))
        workspace = personal_workspace(actor.user)
        name = data.get("name") if isinstance(data, dict) else None
        existing = Workflow.objects.filter(workspace=workspace, name=name).first() if name else None
        if existing is None:
            workflow = services.create_workflow(actor=actor, workspace=workspace, definition=data)
            self.stdout.write(f"Imported {path} as workflow {workflow.pk} ({workflow.name}).\n")
            return workflow
        version = existing.version
        workflow = services.replace_definition(actor=actor, workflow=existing, definition=data)
        change = "unchanged" if workflow.version == version else f"now version {workflow.version}"
        self.stdout.write(f"{path} is workflow {workflow.pk} ({workflow.name}, {change}).\n")
        return workflow

    def _start(self, actor, workflow, inputs, options, dispatcher=CELERY) -> Run:
        run = services.start_run(
            actor=actor,
            workflow=workflow,
            inputs=inputs,
            priority=options["priority"],
            trigger=Trigger.CLI,
            dispatcher=dispatcher,
        )
        self.stdout.write(f"Run {run.pk} of {workflow.name!r} started.\n")
        return run

    def _follow(self, progress: Progress, timeout: float) -> Run:
        deadline = time.monotonic() + timeout
        while True:
            run = progress.update()
            if run.status in RUN_FINISHED or run.status == RunStatus.WAITING:
                return run
            if time.monotonic() > deadline:
                raise CommandError(f"Run {run.pk} is still {run.status} after {timeout:.0f}s.")
            time.sleep(0.2)

    def _finish(self, run: Run, out_dir: str | None) -> None:
        rows = list(
            StepRun.objects.filter(run=run, document__isnull=False)
            .select_related("document")
            .order_by("id")
        )
        if out_dir:
            directory = Path(out_dir)
            directory.mkdir(parents=True, exist_ok=True)
            for index, row in enumerate(rows, start=1):
                target = directory / f"{index:02d}-{row.key}.md"
                target.write_text(row.document.content + "\n", encoding="utf-8")
            self.stdout.write(f"Wrote {_count(len(rows), 'document')} to {directory}.\n")
        else:
            for row in rows:
                self.stdout.write(f"\n=== {row.key}: {row.document.title} ===\n")
                self.stdout.write(row.document.content + "\n")
        summary = (
            f"Run {run.pk} {run.status}: {_count(len(rows), 'document')}, "
            f"{run.tokens_in + run.tokens_out} tokens, cost {run.cost}"
        )
        if run.duration_seconds is not None:
            summary += f", {run.duration_seconds:.2f}s"
        self.stdout.write(summary + "\n")
        if run.status == RunStatus.WAITING:
            waiting = StepRun.objects.filter(run=run, status=StepStatus.WAITING)
            for row in waiting:
                self.stdout.write(
                    f"Step {row.key!r} waits for approval: "
                    f"POST /api/v3/runs/{run.pk}/steps/{row.key}/approve\n"
                )
        elif run.status != RunStatus.SUCCEEDED:
            sys.stdout.flush()
            raise CommandError(f"Run {run.pk} {run.status}: {run.error}")
