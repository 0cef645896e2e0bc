"""Reads of workflows, runs, step runs and documents, already scoped to what the caller may
see (accounts.scoping): anything outside the caller's workspaces is simply not there."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Avg, Count, F, Max, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Role, Workspace
from accounts.scoping import Actor, require_role, scope_to_workspaces
from ai import selectors as ai_selectors
from config import dbfuncs
from config.errors import NotFound
from config.stats import month_start
from workflows.models import (
    Budget,
    Document,
    Run,
    RunStatus,
    Schedule,
    Step,
    StepRun,
    StepStatus,
    Workflow,
    WorkflowVersion,
)
from workflows.search import SEARCH_CONFIG, document_vector

# Lineage walks at most this many documents each way; the answer says when it stopped.
LINEAGE_LIMIT = 1000
SLOWEST_STEPS = 5


# --- Workflows ------------------------------------------------------------------------------


def workflows_for(actor: Actor) -> QuerySet[Workflow]:
    # The step count as a correlated subquery, not a JOIN + GROUP BY: the page's query stays a
    # plain indexed scan, and the paginator's COUNT(*) drops the unused annotation entirely.
    steps = (
        Step.objects.filter(workflow=OuterRef("pk"))
        .order_by()
        .values("workflow")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        scope_to_workspaces(Workflow.objects.all(), actor)
        .annotate(step_count=Coalesce(Subquery(steps), 0))
        .order_by("-updated_at", "-id")
    )


def with_creator_name(workflows: QuerySet[Workflow]) -> QuerySet[Workflow]:
    """The creator's username as `created_by_username`: a list needs that column, not a whole
    user row turned into a model instance per row."""
    return workflows.annotate(created_by_username=F("created_by__username"))


def get_workflow(actor: Actor, pk) -> Workflow:
    workflow = scope_to_workspaces(Workflow.objects.all(), actor).filter(pk=pk).first()
    if workflow is None:
        raise NotFound("No such workflow.", details={"workflow_id": pk})
    return workflow


def search_workflows(queryset: QuerySet[Workflow], q: str) -> QuerySet[Workflow]:
    for term in q.split():
        queryset = queryset.filter(Q(name__icontains=term) | Q(description__icontains=term))
    return queryset


def versions_of(workflow: Workflow) -> QuerySet[WorkflowVersion]:
    return workflow.versions.select_related("created_by").order_by("-version")


def schedules_of(workflow: Workflow) -> QuerySet[Schedule]:
    return workflow.schedules.select_related("periodic_task").order_by("id")


# --- Runs and step runs ---------------------------------------------------------------------


def runs_for(actor: Actor) -> QuerySet[Run]:
    return scope_to_workspaces(Run.objects.all(), actor)


def get_run(actor: Actor, pk) -> Run:
    run = runs_for(actor).filter(pk=pk).first()
    if run is None:
        raise NotFound("No such run.", details={"run_id": pk})
    return run


def run_detail(pk: int) -> Run:
    """A run with what its detail shows (its steps and who decided them)."""
    return (
        Run.objects.select_related("created_by")
        .prefetch_related("step_runs__decided_by")
        .get(pk=pk)
    )


# --- Documents ------------------------------------------------------------------------------


def documents_for(actor: Actor) -> QuerySet[Document]:
    """Documents with their parents' ids prefetched (one query for a whole page)."""
    return scope_to_workspaces(Document.objects.all(), actor).prefetch_related(
        Prefetch("parents", queryset=Document.objects.only("id").order_by("id"))
    )


def get_document(actor: Actor, pk) -> Document:
    document = documents_for(actor).filter(pk=pk).first()
    if document is None:
        raise NotFound("No such document.", details={"document_id": pk})
    return document


def children_ids(document: Document) -> list[int]:
    through = Document.parents.through
    ids = through.objects.filter(
        to_document_id=document.pk, from_document__workspace_id=document.workspace_id
    ).values_list("from_document_id", flat=True)
    return sorted(ids)


def search_documents(queryset: QuerySet[Document], q: str) -> QuerySet[Document]:
    """Full-text search, best match first: PostgreSQL's ranked search (title weighs more than
    content, web-search syntax: "quoted phrases", -excluded, or), else every word in the
    title or the content."""
    q = q.strip()
    if not q:
        return queryset
    if connection.vendor == "postgresql":
        vector = document_vector()
        query = SearchQuery(q, search_type="websearch", config=SEARCH_CONFIG)
        # The match is the GIN index's expression (workflows.search), so the planner can use
        # the index; alias, not annotate: the vector is filtered on, never selected.
        return (
            queryset.alias(search=vector)
            .filter(search=query)
            .annotate(rank=SearchRank(vector, query))
            .order_by("-rank", "-created_at", "-id")
        )
    for term in q.split():
        queryset = queryset.filter(Q(title__icontains=term) | Q(content__icontains=term))
    return queryset


@dataclass
class Lineage:
    document: Document
    ancestors: list[Document] = field(default_factory=list)  # nearest first
    descendants: list[Document] = field(default_factory=list)  # nearest first
    depth: dict[int, int] = field(default_factory=dict)  # id -> distance from `document`
    edges: list[tuple[int, int]] = field(default_factory=list)  # (child, parent)
    truncated: bool = False


def _walk(start: int, *, upstream: bool, limit: int) -> tuple[dict[int, int], bool]:
    """Breadth-first over the parents table, one query per level: {id: depth}."""
    through = Document.parents.through
    near, far = (
        ("from_document_id", "to_document_id")
        if upstream
        else ("to_document_id", "from_document_id")
    )
    depth: dict[int, int] = {}
    frontier = {start}
    level = 0
    while frontier:
        level += 1
        found = set(through.objects.filter(**{f"{near}__in": frontier}).values_list(far, flat=True))
        frontier = found - depth.keys() - {start}
        for doc_id in sorted(frontier):
            if len(depth) >= limit:
                return depth, True
            depth[doc_id] = level
    return depth, False


def lineage(actor: Actor, document: Document, *, limit: int = LINEAGE_LIMIT) -> Lineage:
    """The document's whole upstream chain and all its descendants, with the edges between
    them. Iterative (no recursion, no recursive SQL), bounded by `limit` each way."""
    up, up_cut = _walk(document.pk, upstream=True, limit=limit)
    down, down_cut = _walk(document.pk, upstream=False, limit=limit)
    related = {**up, **down}
    visible = {
        doc.pk: doc
        for doc in scope_to_workspaces(Document.objects.all(), actor)
        .filter(pk__in=related)
        .prefetch_related(Prefetch("parents", queryset=Document.objects.only("id")))
    }

    def ordered(ids: dict[int, int]) -> list[Document]:
        return [visible[i] for i in sorted(ids, key=lambda i: (ids[i], i)) if i in visible]

    nodes = set(visible) | {document.pk}
    through = Document.parents.through
    edges = sorted(
        through.objects.filter(from_document_id__in=nodes, to_document_id__in=nodes).values_list(
            "from_document_id", "to_document_id"
        )
    )
    return Lineage(
        document=document,
        ancestors=ordered(up),
        descendants=ordered(down),
        depth={i: d for i, d in related.items() if i in visible},
        edges=edges,
        truncated=up_cut or down_cut,
    )


# --- Budgets --------------------------------------------------------------------------------


def get_budget(actor: Actor, workspace_id: int) -> Budget:
    """The workspace's budget (members only; others get NotFound), or an unsaved one with no
    limits."""
    require_role(actor, workspace_id, Role.VIEWER)
    return budget_of(Workspace.objects.get(pk=workspace_id))


def budget_of(workspace: Workspace) -> Budget:
    return Budget.objects.filter(workspace=workspace).first() or Budget(workspace=workspace)


def month_to_date(workspace: Workspace) -> dict:
    """What the workspace has used this (UTC) month, from the AI gateway's usage records: what
    the engine enforces the budget against."""
    since = month_start(timezone.now())
    used = ai_selectors.usage_totals(workspace_id=workspace.pk, since=since)
    return {"since": since, "cost": used["cost"], "tokens": used["tokens"]}


# --- Analytics ------------------------------------------------------------------------------


def workflow_analytics(workflow: Workflow, *, since=None) -> dict:
    """Runs by status, success rate, duration p50/p95, tokens and cost, slowest steps."""
    runs = Run.objects.filter(workflow=workflow)
    if since is not None:
        runs = runs.filter(created_at__gte=since)
    by_status = dict(runs.values_list("status").annotate(n=Count("id")).order_by())
    totals = runs.aggregate(
        tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"), cost=Sum("cost")
    )
    succeeded = by_status.get(RunStatus.SUCCEEDED, 0)
    finished = succeeded + by_status.get(RunStatus.FAILED, 0)
    seconds = dbfuncs.SecondsBetween("finished_at", "started_at")
    timed = runs.filter(started_at__isnull=False, finished_at__isnull=False)
    durations = dbfuncs.percentiles(timed, seconds, (0.5, 0.95))[None]
    timing = timed.aggregate(mean=Avg(seconds), sample=Count("id"))
    slowest = (
        StepRun.objects.filter(run__in=runs, status=StepStatus.SUCCEEDED, latency_ms__isnull=False)
        .values("key")
        .annotate(
            runs=Count("id"),
            avg_latency_ms=Avg("latency_ms"),
            max_latency_ms=Max("latency_ms"),
            tokens=Sum("tokens_in") + Sum("tokens_out"),
            cost=Sum("cost"),
        )
        .order_by("-avg_latency_ms", "key")[:SLOWEST_STEPS]
    )
    tokens_in = totals["tokens_in"] or 0
    tokens_out = totals["tokens_out"] or 0
    return {
        "workflow": workflow.pk,
        "runs": {
            "total": sum(by_status.values()),
            "by_status": {status: by_status.get(status, 0) for status in RunStatus.values},
        },
        # Of the runs that finished succeeded or failed (cancelled runs are not counted).
        "success_rate": round(succeeded / finished, 4) if finished else None,
        # Computed by the database over every timed run (config.dbfuncs).
        "duration_seconds": {
            "p50": durations["p50"],
            "p95": durations["p95"],
            "mean": timing["mean"],
            "sample": timing["sample"],
        },
        "tokens": {"in": tokens_in, "out": tokens_out, "total": tokens_in + tokens_out},
        "cost": str(totals["cost"] or Decimal(0)),
        "slowest_steps": [
            {
                "key": row["key"],
                "runs": row["runs"],
                "avg_latency_ms": round(row["avg_latency_ms"], 3),
                "max_latency_ms": row["max_latency_ms"],
                "tokens": row["tokens"] or 0,
                "cost": str(row["cost"] or Decimal(0)),
            }
            for row in slowest
        ],
    }


# --- For analytics (already-checked workspace ids; analytics parses and scopes its window) --


def runs_in_workspaces(workspace_ids) -> QuerySet[Run]:
    return Run.objects.filter(workspace_id__in=list(workspace_ids)).order_by()


def step_runs_in_workspaces(workspace_ids) -> QuerySet[StepRun]:
    return StepRun.objects.filter(run__workspace_id__in=list(workspace_ids)).order_by()


def workflows_in_workspaces(workspace_ids) -> QuerySet[Workflow]:
    return Workflow.objects.filter(workspace_id__in=list(workspace_ids)).order_by()
