"""`task.*` events, sent through realtime to the submitter's user group and the workspace group.

Types: task.queued, task.scheduled, task.started, task.progress, task.retrying,
task.succeeded, task.failed, task.timed_out, task.cancelled.
"""

import logging
from collections.abc import Iterable

from asgiref.sync import async_to_sync

from realtime import events, groups
from tasks.models import BackgroundTask

logger = logging.getLogger(__name__)


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


def publish(task: BackgroundTask, event: str, **extra) -> None:
    """Now (worker code runs outside transactions)."""
    if targets := groups_for(task):
        events.publish(f"task.{event}", event_data(task, **extra), groups=targets)


def publish_on_commit(task: BackgroundTask, event: str, **extra) -> None:
    if targets := groups_for(task):
        events.publish_on_commit(f"task.{event}", event_data(task, **extra), groups=targets)


def publish_many(tasks: Iterable[BackgroundTask], event: str) -> None:
    """One event per task, sent from one event-loop hop (a bulk submit sends thousands)."""
    batch = [(event_data(t), groups_for(t)) for t in tasks]
    batch = [(data, targets) for data, targets in batch if targets]
    if not batch:
        return

    async def send_all():
        for data, targets in batch:
            await events.apublish(f"task.{event}", data, groups=targets)

    try:
        async_to_sync(send_all)()
    except Exception:
        logger.warning("realtime publish failed", exc_info=True, extra={"event": event})
