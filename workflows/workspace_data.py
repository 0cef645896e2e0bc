"""What workflows contributes to a workspace's lifecycle (registered with
`accounts.workspace_hooks` in WorkflowsConfig.ready()):

- before a workspace is deleted, its runs in progress are cancelled (`cancel_run`: queued
  messages revoked, running steps drop their result, `run.cancelled` published);
- its export archive gets the workflows as YAML, the runs, the documents as Markdown with
  their lineage, and the AI usage records;
- retention deletes finished runs, documents and usage records older than their cutoffs,
  keeping every document a kept document was made from (and the runs that hold them).
"""

import csv
import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils.text import slugify

from ai.models import UsageRecord
from workflows.authoring import export_definition
from workflows.errors import InvalidRunState
from workflows.models import RUN_FINISHED, Document, Run, StepRun, Workflow

logger = logging.getLogger(__name__)
ACTIVE = ("queued", "running", "waiting")


# --- before delete --------------------------------------------------------------------------
def cancel_active_runs(workspace_id: int) -> None:
    from workflows.services import cancel_run  # noqa: PLC0415 - services imports the engine

    for run in Run.objects.filter(workspace_id=workspace_id, status__in=ACTIVE):
        try:
            cancel_run(actor=None, run=run)
        except InvalidRunState:  # it finished meanwhile
            continue


# --- export ---------------------------------------------------------------------------------
def _json(value) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n"


def _document_markdown(document: Document, parents: list[Document]) -> str:
    lineage = [
        f"  - id: {p.pk}\n    title: {json.dumps(p.title)}\n    step: {p.step_key}" for p in parents
    ]
    front = [
        "---",
        f"id: {document.pk}",
        f"title: {json.dumps(document.title, ensure_ascii=False)}",
        f"run: {document.run_id}",
        f"step: {document.step_key}",
        f"created_at: {document.created_at.isoformat()}",
        f"word_count: {document.word_count}",
        "parents:" + ("\n" + "\n".join(lineage) if lineage else " []"),
        "---",
        "",
    ]
    return "\n".join(front) + document.content.rstrip("\n") + "\n"


def export_files(workspace_id: int) -> Iterator[tuple[str, str]]:
    workflows = Workflow.objects.filter(workspace_id=workspace_id).order_by("id")
    for workflow in workflows:
        name = f"workflows/{workflow.pk}-{slugify(workflow.name)[:60] or 'workflow'}.yaml"
        yield name, export_definition(workflow, fmt="yaml")
    runs = Run.objects.filter(workspace_id=workspace_id).order_by("id")
    yield (
        "runs.json",
        _json(
            list(
                runs.values(
                    "id",
                    "workflow_id",
                    "workflow_version",
                    "status",
                    "priority",
                    "trigger",
                    "inputs",
                    "error_code",
                    "error",
                    "tokens_in",
                    "tokens_out",
                    "cost",
                    "created_by_id",
                    "created_at",
                    "started_at",
                    "finished_at",
                )
            )
        ),
    )
    documents = (
        Document.objects.filter(workspace_id=workspace_id)
        .order_by("run_id", "id")
        .prefetch_related("parents")
    )
    lineage = []
    for document in documents:
        parents = sorted(document.parents.all(), key=lambda p: p.pk)
        path = f"documents/run-{document.run_id}/{document.pk}-{document.step_key}.md"
        yield path, _document_markdown(document, parents)
        lineage.append(
            {
                "id": document.pk,
                "run_id": document.run_id,
                "step_key": document.step_key,
                "title": document.title,
                "file": path,
                "parents": [p.pk for p in parents],
            }
        )
    yield "documents/lineage.json", _json(lineage)
    yield "usage.csv", _usage_csv(workspace_id)


USAGE_FIELDS = [
    "id",
    "created_at",
    "user_id",
    "model",
    "provider",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost",
    "latency_ms",
    "cached",
    "outcome",
    "error_code",
]


def _usage_csv(workspace_id: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(USAGE_FIELDS)
    rows = UsageRecord.objects.filter(workspace_id=workspace_id).order_by("id")
    for row in rows.values_list(*USAGE_FIELDS).iterator():
        writer.writerow(row)
    return out.getvalue()


# --- retention ------------------------------------------------------------------------------
def _protected(candidates: set[int], old_runs: set[int]) -> set[int]:
    """The candidates a document outside the candidates was made from, and those a step run
    of another run that stays (a re-run reusing it) points at."""
    kept_links = Document.parents.through.objects.exclude(from_document_id__in=candidates)
    protected = set(
        kept_links.filter(to_document_id__in=candidates).values_list("to_document_id", flat=True)
    )
    protected |= set(
        StepRun.objects.filter(document_id__in=candidates)
        .exclude(run_id__in=old_runs)
        .exclude(run_id=F("document__run_id"))
        .values_list("document_id", flat=True)
    )
    return protected


def _in(queryset, workspace_ids, exclude_ids):
    if workspace_ids is not None:
        queryset = queryset.filter(workspace_id__in=workspace_ids)
    return queryset.exclude(workspace_id__in=exclude_ids) if exclude_ids else queryset


def apply_retention(
    cutoffs: dict[str, datetime | None], *, workspace_ids=None, exclude_ids=()
) -> dict[str, int]:
    """Delete, in the workspaces named (None: all but `exclude_ids`), finished runs older
    than `cutoffs["runs"]` (with their documents), documents older than
    `cutoffs["documents"]` and usage records older than `cutoffs["usage"]`, keeping every
    document a kept document was made from (or a kept run reuses), and the run holding it."""
    runs_before, documents_before = cutoffs.get("runs"), cutoffs.get("documents")
    usage_before = cutoffs.get("usage")
    counts = {"runs": 0, "documents": 0, "usage": 0}
    runs = _in(Run.objects.all(), workspace_ids, exclude_ids)
    documents = _in(Document.objects.all(), workspace_ids, exclude_ids)
    with transaction.atomic():
        old_runs: set[int] = set()
        if runs_before is not None:
            old_runs = set(
                runs.filter(status__in=RUN_FINISHED, created_at__lt=runs_before).values_list(
                    "id", flat=True
                )
            )
        candidates = set(Document.objects.filter(run_id__in=old_runs).values_list("id", flat=True))
        if documents_before is not None:
            candidates |= set(
                documents.filter(created_at__lt=documents_before).values_list("id", flat=True)
            )
        while True:  # a document kept keeps its parents, and theirs
            protected = _protected(candidates, old_runs)
            if not protected:
                break
            candidates -= protected
        # A run goes only with all its documents.
        keeping = set(
            Document.objects.filter(run_id__in=old_runs)
            .exclude(id__in=candidates)
            .values_list("run_id", flat=True)
        )
        StepRun.objects.filter(document_id__in=candidates).update(document=None)
        Document.objects.filter(id__in=candidates).delete()
        counts["documents"] = len(candidates)
        counts["runs"] = Run.objects.filter(id__in=old_runs - keeping).count()
        Run.objects.filter(id__in=old_runs - keeping).delete()
        if usage_before is not None:
            usage = _in(UsageRecord.objects.all(), workspace_ids, exclude_ids)
            counts["usage"], _ = usage.filter(created_at__lt=usage_before).delete()
    return counts


def register() -> None:
    from accounts import workspace_hooks  # noqa: PLC0415

    workspace_hooks.register_before_delete(cancel_active_runs)
    workspace_hooks.register_exporter(export_files)
    workspace_hooks.register_retention(apply_retention)
