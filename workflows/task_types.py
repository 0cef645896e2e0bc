"""The workflows app's background task types (discovered by `tasks` at start-up).

- `maintenance.sweep_step_leases`: the engine's lease sweep, on the beat schedule every
  ENGINE_SWEEP_SECONDS (installed by migrate through `tasks`).
- `workflows.batch_run`: one run of a workflow per row of inputs (a list, or CSV text with a
  header row), at most `concurrency` at a time; the result lists each row's outcome.
- `documents.export`: a run's or a workflow's documents as a zip of markdown files and a
  manifest.json, under MEDIA_ROOT, downloadable from the `download` path in the result.
"""

import contextlib
import csv
import io
import json
import time
import uuid
import zipfile
from pathlib import Path

from django.conf import settings

from config.errors import DomainError, NotFound
from tasks.errors import TaskCancelled, TaskTimedOut
from tasks.registry import TaskContext, task_type
from workflows import selectors
from workflows.authoring import current_definition
from workflows.engine.sweep import sweep_leases
from workflows.models import RUN_FINISHED, Document, Run, StepRun, Trigger
from workflows.services import cancel_run, start_run

EXPORT_DIR = "exports"


@task_type(
    "maintenance.sweep_step_leases",
    schema={"type": "object", "additionalProperties": False},
    description=(
        "The workflow engine's recovery: re-queues steps whose worker stopped answering (lease "
        "expired), fails those out of attempts, and resends steps whose message was lost."
    ),
    priority="high",
    time_limit=120,
    schedule={"every": settings.ENGINE_SWEEP_SECONDS},
    system_only=True,
)
def sweep_step_leases(ctx: TaskContext, payload: dict) -> dict:
    return sweep_leases()


def _visible(selector, actor, pk: int, noun: str):
    """The object through its selector; a task reports what it cannot see as a bad payload."""
    try:
        return selector(actor, pk)
    except NotFound as exc:
        raise ValueError(f"no {noun} {pk} in your workspaces") from exc


# --- batch runs ------------------------------------------------------------------------------

BATCH_SCHEMA = {
    "type": "object",
    "properties": {
        "workflow_id": {"type": "integer", "minimum": 1},
        "rows": {"type": "array", "items": {"type": "object"}, "minItems": 1, "maxItems": 1000},
        "csv": {"type": "string", "minLength": 1, "maxLength": 1_000_000},
        "priority": {"enum": ["high", "normal", "low"]},
        "concurrency": {"type": "integer", "minimum": 1, "maximum": 50},
        "max_cost": {"type": "number", "minimum": 0},
    },
    "required": ["workflow_id"],
    "oneOf": [{"required": ["rows"]}, {"required": ["csv"]}],
    "additionalProperties": False,
}
POLL_SECONDS = 0.25


def batch_rows(payload: dict) -> list[dict]:
    """The rows of inputs: the list as given, or the CSV's rows keyed by its header."""
    if "rows" in payload:
        return list(payload["rows"])
    reader = csv.DictReader(io.StringIO(payload["csv"]))
    rows = [{k: v for k, v in row.items() if k is not None} for row in reader]
    if not rows:
        raise ValueError("csv: needs a header row and at least one row of values")
    if len(rows) > 1000:
        raise ValueError("csv: at most 1000 rows")
    return rows


def _typed(row: dict, definition: dict) -> dict:
    """CSV values are text: read each as its input's declared type (when it parses)."""
    types = {spec["name"]: spec.get("type", "string") for spec in definition.get("inputs", [])}
    values = {}
    for name, value in row.items():
        kind = types.get(name)
        if isinstance(value, str) and kind in ("integer", "number", "boolean"):
            text = value.strip()
            try:
                if kind == "integer":
                    value = int(text)
                elif kind == "number":
                    value = float(text)
                elif text.lower() in ("true", "yes", "1", "false", "no", "0"):
                    value = text.lower() in ("true", "yes", "1")
            except ValueError:
                pass  # left as text: the run's input check names the problem
        if value == "" and kind:
            value = None  # an empty cell is a missing value (defaults apply)
        values[name] = value
    return values


@task_type(
    "workflows.batch_run",
    schema=BATCH_SCHEMA,
    validate=lambda payload: batch_rows(payload) and None,
    description=(
        "Runs a workflow once per row of inputs (`rows`, or `csv` text with a header row), at "
        "most `concurrency` (default 5) at a time, and reports each row's run and outcome."
    ),
    priority="low",
    time_limit=3000,
)
def batch_run(ctx: TaskContext, payload: dict) -> dict:
    actor = ctx.actor
    if actor is None:
        raise ValueError("a batch run needs the user who submitted it")
    workflow = _visible(selectors.get_workflow, actor, payload["workflow_id"], "workflow")
    definition = current_definition(workflow)
    rows = batch_rows(payload)
    concurrency = payload.get("concurrency", 5)
    outcomes: list[dict] = [{"row": i + 1} for i in range(len(rows))]
    active: dict[int, int] = {}  # run id -> row index
    next_row = 0
    finished = 0
    try:
        while finished < len(rows):
            ctx.check_cancelled()
            while next_row < len(rows) and len(active) < concurrency:
                index, next_row = next_row, next_row + 1
                try:
                    run = start_run(
                        actor=actor,
                        workflow=workflow,
                        inputs=_typed(rows[index], definition),
                        priority=payload.get("priority", "normal"),
                        trigger=Trigger.BATCH,
                        max_cost=payload.get("max_cost"),
                    )
                except DomainError as exc:
                    outcomes[index].update(status="rejected", error=exc.message, code=exc.code)
                    finished += 1
                    continue
                outcomes[index]["run_id"] = run.pk
                active[run.pk] = index
            if active:
                done = Run.objects.filter(pk__in=active, status__in=RUN_FINISHED).values_list(
                    "pk", "status", "error"
                )
                for run_id, status, error in done:
                    outcomes[active.pop(run_id)].update(status=status, error=error)
                    finished += 1
            ctx.progress(100 * finished // len(rows), f"{finished} of {len(rows)} rows")
            if finished < len(rows):
                time.sleep(POLL_SECONDS)
    except (TaskCancelled, TaskTimedOut):
        # Cancelled or timed out: the runs still going are cancelled too.
        for run in Run.objects.filter(pk__in=active).exclude(status__in=RUN_FINISHED):
            with contextlib.suppress(DomainError):  # finished meanwhile
                cancel_run(actor=None, run=run)
        raise
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome["status"]] = counts.get(outcome["status"], 0) + 1
    return {"workflow_id": workflow.pk, "rows": len(rows), "counts": counts, "runs": outcomes}


# --- exports ---------------------------------------------------------------------------------

EXPORT_SCHEMA = {
    "type": "object",
    "properties": {
        "run_id": {"type": "integer", "minimum": 1},
        "workflow_id": {"type": "integer", "minimum": 1},
    },
    "oneOf": [{"required": ["run_id"]}, {"required": ["workflow_id"]}],
    "additionalProperties": False,
}


def export_path(workspace_id: int, name: str) -> Path:
    return Path(settings.MEDIA_ROOT) / EXPORT_DIR / str(workspace_id) / name


@task_type(
    "documents.export",
    schema=EXPORT_SCHEMA,
    description=(
        "Writes a run's (run_id) or a workflow's (workflow_id) documents to a zip of markdown "
        "files with a manifest.json; the result gives its download path."
    ),
    priority="low",
    time_limit=600,
)
def export_documents(ctx: TaskContext, payload: dict) -> dict:
    actor = ctx.actor
    if actor is None:
        raise ValueError("an export needs the user who submitted it")
    if "run_id" in payload:
        run = _visible(selectors.get_run, actor, payload["run_id"], "run")
        workspace_id, label = run.workspace_id, f"run-{run.pk}"
        # A run's documents are its step runs' (a re-run's reused ones included).
        ids = StepRun.objects.filter(run=run, document__isnull=False).values("document_id")
        documents = Document.objects.filter(pk__in=ids)
    else:
        workflow = _visible(selectors.get_workflow, actor, payload["workflow_id"], "workflow")
        workspace_id, label = workflow.workspace_id, f"workflow-{workflow.pk}"
        documents = Document.objects.filter(run__workflow=workflow)
    documents = list(documents.order_by("run_id", "id").prefetch_related("parents"))
    name = f"{label}-{uuid.uuid4().hex}.zip"
    target = export_path(workspace_id, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    manifest = {"source": label, "documents": []}
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number, document in enumerate(documents, start=1):
            ctx.check_cancelled()
            filename = f"run-{document.run_id}/{number:03d}-{document.step_key}.md"
            text = document.content
            if not text.lstrip().startswith("#"):  # give it its title as a heading
                text = f"# {document.title}\n\n{text}"
            archive.writestr(filename, text.rstrip("\n") + "\n")
            manifest["documents"].append(
                {
                    "id": document.pk,
                    "run_id": document.run_id,
                    "step_key": document.step_key,
                    "title": document.title,
                    "word_count": document.word_count,
                    "parents": [parent.pk for parent in document.parents.all()],
                    "created_at": document.created_at.isoformat(),
                    "file": filename,
                }
            )
            ctx.progress(100 * number // max(len(documents), 1))
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
    return {
        "documents": len(documents),
        "file": f"{EXPORT_DIR}/{workspace_id}/{name}",
        "download": f"/api/v3/exports/{workspace_id}/{name}",
        "bytes": target.stat().st_size,
    }
