"""The engine's events: payloads, and an outbox that sends a transaction's events together.

Every state change is published once its transaction commits (STYLE.md "Side effects"). An
outbox collects the events of one transaction and hands them on commit, in one go, to
realtime's per-process publisher (`realtime.events.publish_batch`), which sends them in order
without holding up the step.
"""

from functools import partial

from django.db import transaction

from realtime.events import publish_batch
from realtime.groups import run_group, workflow_group, workspace_group
from workflows.engine.dispatch import Dispatcher
from workflows.models import RUN_FINISHED, Document, Run, StepRun
from workflows.signals import engine_events_committed, run_event, runs_finished


def groups_for(run: Run) -> list[str]:
    return [run_group(run.pk), workflow_group(run.workflow_id), workspace_group(run.workspace_id)]


def run_payload(run: Run) -> dict:
    return {
        "run_id": run.pk,
        "workflow_id": run.workflow_id,
        "workspace_id": run.workspace_id,
        "status": run.status,
        "error_code": run.error_code,
        "error": run.error,
        "tokens_in": run.tokens_in,
        "tokens_out": run.tokens_out,
        "cost": run.cost,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def step_payload(run: Run, step_run: StepRun) -> dict:
    return {
        "run_id": run.pk,
        "workflow_id": run.workflow_id,
        "step_run_id": step_run.pk,
        "step": step_run.key,
        "step_key": step_run.key,  # the name realtime's /realtime/ page reads
        "kind": step_run.kind,
        "status": step_run.status,
        "attempts": step_run.attempts,
        "max_attempts": step_run.max_attempts,
        "error_code": step_run.error_code,
        "error": step_run.error,
        "document_id": step_run.document_id,
        "tokens_in": step_run.tokens_in,
        "tokens_out": step_run.tokens_out,
        "cost": step_run.cost,
        "latency_ms": step_run.latency_ms,
        "duration_ms": _duration_ms(step_run),
    }


def _duration_ms(step_run: StepRun) -> float | None:
    """Wall time of the step's last attempt, once it finished (any kind of step)."""
    if step_run.started_at and step_run.finished_at:
        return round((step_run.finished_at - step_run.started_at).total_seconds() * 1000, 3)
    return None


def document_payload(run: Run, document: Document) -> dict:
    return {
        "run_id": run.pk,
        "workflow_id": run.workflow_id,
        "document_id": document.pk,
        "step": document.step_key,
        "step_key": document.step_key,
        "title": document.title,
        "word_count": document.word_count,
    }


# Event names are the status, except "running", which is announced as "started".
_EVENT_FOR_STATUS = {"running": "started"}


class Outbox:
    """Events and step wake-ups of one transaction; `flush_on_commit()` sends them after it
    commits (the wake-ups to `dispatcher`)."""

    def __init__(self, run: Run, *, dispatcher: Dispatcher):
        self.dispatcher = dispatcher
        self.workspace_id = run.workspace_id
        self.groups = groups_for(run)
        self.items: list[tuple[str, dict]] = []
        self.wakeups: list = []
        self.handed = None  # a step this transaction claimed for the dispatcher (steps.HandOff)
        self.finished: list[int] = []  # runs this transaction finished (workflows.signals)

    def run(self, run: Run, event: str | None = None) -> None:
        event = event or _EVENT_FOR_STATUS.get(run.status, run.status)
        self.items.append((f"run.{event}", run_payload(run)))
        if run.status in RUN_FINISHED:
            self.finished.append(run.pk)

    def step(self, run: Run, step_run: StepRun, event: str | None = None) -> None:
        event = event or _EVENT_FOR_STATUS.get(step_run.status, step_run.status)
        self.items.append((f"step.{event}", step_payload(run, step_run)))

    def document(self, run: Run, document: Document) -> None:
        self.items.append(("document.created", document_payload(run, document)))

    def wake(self, wakeups: list) -> None:
        """Steps to send to the workers, after this transaction's events (so that nobody
        hears "step.started" before the "step.queued" that led to it)."""
        self.wakeups.extend(wakeups)

    def unwake(self, step_run_id: int) -> None:
        """Take back a step's wake-up: it was claimed in this transaction (state.claim)."""
        self.wakeups = [w for w in self.wakeups if w.step_run_id != step_run_id]

    def hand(self, claimed) -> None:
        """A step claimed in this transaction, given to the dispatcher after the commit
        (`dispatcher.hand`), before the wake-ups are sent."""
        self.handed = claimed

    def flush_on_commit(self) -> None:
        if self.items or self.wakeups or self.handed:
            transaction.on_commit(
                partial(
                    _deliver,
                    list(self.items),
                    self.groups,
                    list(self.wakeups),
                    self.dispatcher,
                    list(self.finished),
                    self.workspace_id,
                    self.handed,
                )
            )
            self.items.clear()
            self.wakeups.clear()
            self.finished.clear()
            self.handed = None


def _deliver(
    items, groups, wakeups, dispatcher, finished=(), workspace_id=None, handed=None
) -> None:
    if items:
        publish_batch(items, groups=groups)  # handed over, in order; never raises
        for event_type, data in items:
            if event_type.startswith("run."):
                run_event.send_robust(sender=Run, event=event_type, data=data)
    if handed is not None:
        dispatcher.hand(handed)  # before the wake-ups: it is the one the dispatcher keeps
    if wakeups:
        dispatcher.send(wakeups)
    if finished:
        runs_finished.send_robust(sender=Run, run_ids=list(finished), dispatcher=dispatcher)
    if items:
        # send_robust: a subscriber's failure (metrics, analytics) never reaches the engine.
        engine_events_committed.send_robust(sender=Outbox, workspace_id=workspace_id, events=items)
