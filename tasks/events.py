"""`task.*` events, sent through realtime to the submitter's user group and the workspace group.

Types: task.queued, task.scheduled, task.started, task.progress, task.retrying,
task.succeeded, task.failed, task.timed_out, task.cancelled.

Events come from more than one process (the web process queues, a worker starts and ends), and
each process's publisher waits a moment before it sends, so a client may hear a worker's
`task.started` before the web process's `task.queued`. Every event carries `seq`, which only
grows over a task's life: a client that has applied an event skips any with a lower `seq`.
"""

from collections.abc import Iterable
from functools import partial

from django.db import transaction

from realtime import events, groups
from tasks.models import BackgroundTask
from tasks.signals import task_finished

# Where an event comes within one attempt. `queued` precedes the claim that counts the attempt.
PHASES = {
    "queued": 0,
    "scheduled": 0,
    "started": 1,
    "progress": 2,
    "retrying": 3,
    "succeeded": 4,
    "failed": 4,
    "timed_out": 4,
    "cancelled": 4,
}


def seq(task: BackgroundTask, event: str) -> int:
    """The event's place in the task's life: by resubmission (a retry from the API starts the
    count of attempts again), then attempt, then phase. Attempts stay below 100
    (TASKS_MAX_RETRIES)."""
    return (task.resubmissions * 100 + task.attempts) * 10 + PHASES[event]


def event_data(task: BackgroundTask, **extra) -> dict:
    return {
        "id": str(task.pk),
        "task_type": task.task_type,
        "name": task.name,
        "status": task.status,
        "priority": task.priority,
        "progress": task.progress,
        "progress_message": task.progress_message,
        "attempts": task.attempts,
        "workspace_id": task.workspace_id,
        **extra,
    }


def groups_for(task: BackgroundTask) -> list[str]:
    names = []
    if task.submitted_by_id:
        names.append(groups.user_group(task.submitted_by_id))
    if task.workspace_id:
        names.append(groups.workspace_group(task.workspace_id))
    return names


FAILED_EVENTS = ("failed", "timed_out")


def _signal_failure(task: BackgroundTask, event: str) -> None:
    if event in FAILED_EVENTS:
        task_finished.send_robust(
            sender=BackgroundTask, data={**event_data(task), "error": task.error[:500]}
        )


def publish(task: BackgroundTask, event: str, **extra) -> None:
    """Now (worker code runs outside transactions)."""
    if targets := groups_for(task):
        data = event_data(task, seq=seq(task, event), **extra)
        events.publish(f"task.{event}", data, groups=targets)
    _signal_failure(task, event)


def publish_on_commit(task: BackgroundTask, event: str, **extra) -> None:
    if targets := groups_for(task):
        data = event_data(task, seq=seq(task, event), **extra)
        events.publish_on_commit(f"task.{event}", data, groups=targets)
    if event in FAILED_EVENTS:
        transaction.on_commit(partial(_signal_failure, task, event))


def publish_many(tasks: Iterable[BackgroundTask], event: str) -> None:
    """One event per task, handed over at once (a bulk submit sends thousands)."""
    events.publish_batch(
        (f"task.{event}", event_data(t, seq=seq(t, event)), targets)
        for t in tasks
        if (targets := groups_for(t))
    )
