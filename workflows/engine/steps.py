"""One StepRun, end to end: claim it, run it outside any transaction, record the outcome.

Per step: one statement that claims it (a conditional UPDATE) and reads its run with the
upstream documents (two on SQLite), the model call outside any transaction, then one
transaction that locks the run's steps and writes the model calls' usage records, the
document, its parents and the status (on PostgreSQL the lock also takes the document's id,
so the usage rows, the document and its links go in one round trip with the status), and
queues the successors, claiming at once the one this worker follows on with (`HandOff`: its
first statement is then the lock). Every delivery of a message is safe: a claim that matches
no row exits, and an outcome whose claim was lost (cancelled, or re-queued by the sweep) is
dropped.
"""

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from config.backoff import backoff_delay
from workflows.engine import graph, lease, llm, retrieval, sql, state
from workflows.engine.budget import check_budget
from workflows.engine.dispatch import CELERY, Dispatcher, Wakeup, new_task_id
from workflows.engine.documents import create_document
from workflows.engine.events import Outbox
from workflows.engine.llm import PermanentStepError, StepError, TransientStepError
from workflows.models import (
    DEFAULT_BACKOFF_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    Budget,
    Document,
    Run,
    RunStatus,
    StepKind,
    StepRun,
    StepStatus,
)
from workflows.templating import (
    TemplateProblem,
    build_context,
    is_truthy,
    render,
)

logger = logging.getLogger(__name__)

# A lost database connection is reopened this many times, pausing longer each time.
RECONNECT_ATTEMPTS = 5
RECONNECT_PAUSE_SECONDS = 0.5
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass
class Outcome:
    status: str
    content: str = ""
    title: str = ""
    data: object = None
    analysis: dict = field(default_factory=dict)
    parents: list = field(default_factory=list)
    rendered_prompt: str = ""
    model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = Decimal(0)
    latency_ms: float | None = None


def step_spec(definition: dict, key: str) -> dict:
    return next(step for step in definition["steps"] if step["key"] == key)


def run_step(
    step_run_id: int, lease_seconds: int | None = None, *, dispatcher: Dispatcher = CELERY
) -> str:
    """Run one queued StepRun; returns what happened (for logs and tests). The Celery task
    `workflows.execute_step` calls it (through follow_on); what it queues next goes to
    `dispatcher`.

    `lease_seconds` (the step's timeout, carried by its message for the task's time limits)
    is not needed here: the claim takes a short lease that this process's heartbeat renews
    while the step runs (engine/lease.py)."""
    now = timezone.now()
    claimed = reconnecting(
        sql.claim_with_context, step_run_id, now=now, lease=lease.lease_until(now)
    )
    if claimed is None:
        return "not-queued"  # done, cancelled, or another delivery has it
    step_run, run, budget, documents = claimed
    outbox = Outbox(run, dispatcher=dispatcher)
    if run.status == RunStatus.QUEUED and sql.start_run(run.pk, now=now):
        run.status = RunStatus.RUNNING
        run.started_at = run.started_at or now
        outbox.run(run)
    step_run.run = run
    outbox.step(run, step_run)
    outbox.flush_on_commit()  # no transaction is open: sent now
    return run_claimed(Claimed(step_run, run, budget, documents), dispatcher=dispatcher)


@dataclass
class Claimed:
    """A step claimed (running, leased, its start announced) with what its claim read: the
    run, the workspace's budget and the documents of its context, by step key."""

    step_run: StepRun
    run: Run
    budget: Budget | None
    documents: dict[str, Document]


def run_claimed(claimed: Claimed, *, dispatcher: Dispatcher = CELERY) -> str:
    """Run a claimed step: by `run_step`, or as the successor a step claimed for this worker
    in its own transaction (`HandOff`, engine/follow_on.py)."""
    with lease.kept(claimed.step_run):
        return _execute_claimed(claimed, dispatcher)


def _execute_claimed(claimed: Claimed, dispatcher: Dispatcher) -> str:
    run, step_run = claimed.run, claimed.step_run
    spec = step_spec(run.definition, step_run.key)
    upstream = graph.upstream_map(run.definition)
    error: StepError | None = None
    # The model calls' usage records, kept unsaved: written with the step's outcome, in its
    # transaction.
    usage: list = []
    try:
        outcome = _perform(run, step_run, spec, upstream, claimed.budget, claimed.documents, usage)
    except StepError as exc:
        error = exc
    except SoftTimeLimitExceeded:
        # The step's own timeout (the task's soft time limit, engine/dispatch.py). It may
        # have interrupted a query: the connection's state is unknown, so open a new one.
        connection.close()
        message = f"The step ran longer than its timeout ({step_run.timeout_seconds} s)."
        error = TransientStepError(message, code="step_timeout")
    except (DatabaseError, ConnectionError, TimeoutError) as exc:
        logger.warning("step hit an infrastructure error", exc_info=True)
        error = TransientStepError(str(exc) or type(exc).__name__, code="infrastructure")
    except Exception as exc:
        logger.exception("step failed unexpectedly", extra={"step_run": step_run.pk})
        error = PermanentStepError(f"{type(exc).__name__}: {exc}", code="internal_error")
    if error is not None:
        return reconnecting(_fail_or_retry, run, step_run, spec, upstream, error, usage, dispatcher)
    return reconnecting(_record, claimed, upstream, outcome, usage, dispatcher)


def reconnecting(write, *args, **kwargs):
    """Call `write` (one query or one transaction), again on a fresh connection if the
    database connection was lost (a restarted server, a terminated backend): the step's work
    is not thrown away, nor an attempt spent, for a connection that can be reopened."""
    for attempt in range(RECONNECT_ATTEMPTS):
        try:
            return write(*args, **kwargs)
        except (OperationalError, InterfaceError):
            if attempt == RECONNECT_ATTEMPTS - 1 or connection.in_atomic_block:
                raise
            logger.warning("database connection lost; reconnecting", exc_info=True)
            connection.close()
            time.sleep(RECONNECT_PAUSE_SECONDS * (attempt + 1))
    raise AssertionError("unreachable")


def _render(source: str, context: dict, what: str) -> str:
    try:
        return render(source, context)
    except TemplateProblem as exc:
        message = f"The {what} template is not valid: {exc}"
        raise PermanentStepError(message, code="bad_template") from exc


def _title(content: str, spec: dict) -> str:
    match = _HEADING.search(content[:2000])
    title = match.group(1) if match else (spec.get("name") or spec["key"])
    return title[:300]


def _perform(
    run: Run, step_run: StepRun, spec: dict, upstream: dict, budget, documents: dict, usage: list
) -> Outcome:
    key = step_run.key
    context = build_context(
        workflow_name=run.definition.get("name", ""),
        inputs=run.inputs,
        steps={
            k: {"output": doc.content, "title": doc.title, "data": doc.data}
            for k, doc in documents.items()
        },
    )
    parents = [documents[k] for k in upstream[key] if k in documents]
    if spec.get("when") and not is_truthy(_render(spec["when"], context, "when")):
        return Outcome(status=StepStatus.SKIPPED)
    kind = spec["kind"]
    if kind == StepKind.APPROVAL:
        return Outcome(status=StepStatus.WAITING, parents=parents)
    if kind == StepKind.RETRIEVE:
        return _retrieve(run, spec, context, parents)
    prompt = _render(spec.get("prompt", ""), context, "prompt") if spec.get("prompt") else ""
    if kind == StepKind.TRANSFORM:
        return Outcome(
            status=StepStatus.SUCCEEDED,
            content=prompt,
            title=_title(prompt, spec),
            parents=parents,
            rendered_prompt=prompt,
        )
    parameters = {**run.definition.get("parameters", {}), **spec.get("parameters", {})}
    model = spec.get("model") or run.definition.get("default_model") or ""
    if kind == StepKind.GENERATE:
        check_budget(run, budget)
        result = llm.complete(
            workspace=run.workspace_id,
            user=run.created_by_id,
            prompt=prompt,
            model=model,
            parameters=parameters,
            response_schema=spec.get("response_schema"),
            timeout=spec.get("timeout", DEFAULT_TIMEOUT_SECONDS),
            usage=usage,
        )
        return Outcome(
            status=StepStatus.SUCCEEDED,
            content=result.content,
            title=_title(result.content, spec),
            data=result.data,
            parents=parents,
            rendered_prompt=prompt,
            model=result.model,
            tokens_in=result.prompt_tokens or 0,
            tokens_out=result.completion_tokens or 0,
            cost=Decimal(str(result.cost or 0)),
            latency_ms=result.latency_ms,
        )
    # analyze: the rendered prompt if the step has one, else the upstream documents' text.
    text = prompt or "\n\n".join(doc.content for doc in parents)
    use_model = bool(spec.get("model"))
    if use_model:
        check_budget(run, budget)
    analysis = llm.analyze(
        text, use_model=use_model, workspace=run.workspace_id, user=run.created_by_id, usage=usage
    )
    content = _analysis_markdown(spec, analysis)
    return Outcome(
        status=StepStatus.SUCCEEDED,
        content=content,
        title=_title(content, spec),
        analysis=analysis,
        data=analysis,
        parents=parents,
        rendered_prompt=prompt,
        model=model if use_model else "",
    )


def _retrieve(run: Run, spec: dict, context: dict, parents: list) -> Outcome:
    """The workspace's best documents for the rendered query; they become the document's
    parents (after its upstream ones), so lineage shows what later steps were built from."""
    query = " ".join(_render(spec.get("query", ""), context, "query").split())
    if not query:
        raise PermanentStepError("The query rendered empty.", code="empty_query")
    parameters = spec.get("parameters", {})
    found = retrieval.retrieve(workspace_id=run.workspace_id, query=query, parameters=parameters)
    title = spec.get("name") or spec["key"]
    content = retrieval.as_markdown(title, query, found)
    upstream_ids = {parent.pk for parent in parents}
    retrieved = [Document(pk=item.id) for item in found if item.id not in upstream_ids]
    return Outcome(
        status=StepStatus.SUCCEEDED,
        content=content,
        title=_title(content, spec),
        data=retrieval.as_data(query, parameters.get("mode", "hybrid"), found),
        parents=[*parents, *retrieved],
        rendered_prompt=query,
    )


def _analysis_markdown(spec: dict, analysis: dict) -> str:
    sentiment = analysis.get("sentiment")
    if isinstance(sentiment, dict):
        sentiment = sentiment.get("label") or sentiment.get("compound")
    keywords = analysis.get("keywords") or []
    keywords = [k if isinstance(k, str) else k.get("keyword", str(k)) for k in keywords]
    readability = analysis.get("readability")
    if isinstance(readability, dict):
        readability = ", ".join(f"{k}: {v}" for k, v in readability.items())
    lines = [
        f"# {spec.get('name') or spec['key']}",
        "",
        f"**Summary:** {analysis.get('summary', '')}",
        f"**Sentiment:** {sentiment}",
        f"**Keywords:** {', '.join(map(str, keywords))}",
        f"**Readability:** {readability}",
    ]
    return "\n".join(lines)


def _owned(mine: StepRun | None, step_run: StepRun) -> bool:
    """Still ours: running, at the attempt we claimed (not cancelled, not re-queued)."""
    return (
        mine is not None
        and mine.status == StepStatus.RUNNING
        and mine.attempts == step_run.attempts
    )


def _record(
    claimed: Claimed,
    upstream: dict,
    outcome: Outcome,
    usage: list,
    dispatcher: Dispatcher,
) -> str:
    run, step_run = claimed.run, claimed.step_run
    with transaction.atomic():
        if outcome.status == StepStatus.SUCCEEDED:
            locked, rows, document_id = state.lock_for_document(run.pk)
        else:
            (locked, rows), document_id = state.lock(run.pk), None
        mine = rows.get(step_run.key)
        if not _owned(mine, step_run):
            llm.save_usage(usage)  # the calls were made, whether or not the outcome counts
            return "lost"
        now = timezone.now()
        # Written in one round trip with the step's status (on PostgreSQL).
        writes = llm.usage_writes(usage)
        outbox = Outbox(locked, dispatcher=dispatcher)
        mine.status = outcome.status
        mine.lease_expires_at = None
        mine.error = mine.error_code = ""
        mine.finished_at = None if outcome.status == StepStatus.WAITING else now
        mine.rendered_prompt = outcome.rendered_prompt
        mine.model = outcome.model
        mine.tokens_in = outcome.tokens_in
        mine.tokens_out = outcome.tokens_out
        mine.cost = outcome.cost
        mine.latency_ms = outcome.latency_ms
        known = dict(claimed.documents)  # what a successor's context may be built from
        if outcome.status == StepStatus.SUCCEEDED:
            document = create_document(
                run=locked,
                step_key=mine.key,
                title=outcome.title,
                content=outcome.content,
                parents=outcome.parents,
                analysis=outcome.analysis,
                data=outcome.data,
                now=now,
                document_id=document_id,
                writes=writes,
            )
            mine.document = document
            known[mine.key] = document
            outbox.document(locked, document)
        outbox.step(locked, mine)
        dirty = set()
        if outcome.tokens_in or outcome.tokens_out or outcome.cost:
            locked.tokens_in += outcome.tokens_in
            locked.tokens_out += outcome.tokens_out
            locked.cost += outcome.cost
            dirty = {"tokens_in", "tokens_out", "cost"}
        hand_off = HandOff(dispatcher, rows, known)
        state.advance_and_settle(
            locked,
            rows,
            upstream,
            outbox,
            dirty=dirty,
            changed=[mine],
            now=now,
            also=writes,
            hand_off=hand_off,
        )
        llm.usage_saved(usage)
        if hand_off.row is not None:
            outbox.hand(hand_off.claimed(locked, run, claimed.budget))
        outbox.flush_on_commit()
    return outcome.status


class HandOff:
    """Follow-on without a claim of its own: when the dispatcher (follow_on.KeepOne) would
    keep a successor for this worker, the step's transaction claims it (queued and started
    in the same write), so the worker runs it after the commit without claiming it again,
    and a crash in between leaves it to its lease like any running step. Taken only when
    every document of the successor's context is at hand (this step's, and those its own
    claim read); otherwise the successor is queued and followed on as usual."""

    def __init__(self, dispatcher: Dispatcher, rows: dict[str, StepRun], known: dict):
        self.would_keep = getattr(dispatcher, "would_keep", None)
        self.rows = rows
        self.known = known
        self.row: StepRun | None = None
        self.documents: dict[str, Document] = {}

    def pick(self, queued: list[StepRun]) -> StepRun | None:
        """The queued row to claim now, if any (called under the run's lock)."""
        self.row = None
        if self.would_keep is None:
            return None
        for row in queued:
            if not self.would_keep(row.timeout_seconds):
                continue
            documents = self._context(row)
            if documents is not None:
                self.row, self.documents = row, documents
            return self.row  # the first one the dispatcher would keep, or none
        return None

    def _context(self, row: StepRun) -> dict[str, Document] | None:
        documents = {}
        for key in row.context_keys:
            upstream = self.rows.get(key)
            if upstream is None or upstream.status != StepStatus.SUCCEEDED:
                continue
            document = self.known.get(key)
            if document is None or document.pk != upstream.document_id:
                return None  # not at hand: the successor's own claim reads it
            documents[key] = document
        return documents

    def claimed(self, locked: Run, run: Run, budget: Budget | None) -> Claimed:
        """The claimed successor, its run read under the lock (the definition, inputs and
        creator, which a run never changes, from this step's) and this step's budget row."""
        locked.definition = run.definition
        locked.inputs = run.inputs
        locked.created_by_id = run.created_by_id
        self.row.run = locked
        return Claimed(self.row, locked, budget, self.documents)


def _fail_or_retry(
    run: Run,
    step_run: StepRun,
    spec: dict,
    upstream: dict,
    error: StepError,
    usage: list,
    dispatcher: Dispatcher,
) -> str:
    with transaction.atomic():
        llm.save_usage(usage)  # failed calls are recorded too
        locked, rows = state.lock(run.pk)
        mine = rows.get(step_run.key)
        if not _owned(mine, step_run):
            return "lost"
        now = timezone.now()
        outbox = Outbox(locked, dispatcher=dispatcher)
        mine.error = error.message[:5000]
        mine.error_code = error.code[:64]
        mine.lease_expires_at = None
        if error.transient and mine.attempts < mine.max_attempts:
            delay = backoff_delay(
                attempt=mine.attempts,
                base=float(spec.get("retry", {}).get("backoff_seconds", DEFAULT_BACKOFF_SECONDS)),
                cap=settings.ENGINE_MAX_RETRY_DELAY_SECONDS,
                at_least=error.retry_after,
            )
            mine.status = StepStatus.QUEUED
            mine.queued_at = now + timedelta(seconds=delay)  # when it is due
            mine.task_id = new_task_id()
            mine.save(
                update_fields=[
                    "status",
                    "queued_at",
                    "task_id",
                    "error",
                    "error_code",
                    "lease_expires_at",
                ]
            )
            outbox.step(locked, mine, "retrying")
            queue = state.queue_for(locked)
            outbox.wake([Wakeup(mine.pk, mine.task_id, queue, delay, mine.timeout_seconds)])
            outbox.flush_on_commit()
            return "retrying"
        mine.status = StepStatus.FAILED
        mine.finished_at = now
        state.write(mine, ["status", "finished_at", "error", "error_code", "lease_expires_at"])
        outbox.step(locked, mine)
        state.fail_run(
            locked,
            rows,
            code=error.code[:64],
            message=f"Step '{mine.key}' failed: {error.message}"[:5000],
            outbox=outbox,
            now=now,
        )
        outbox.flush_on_commit()
    return "failed"
