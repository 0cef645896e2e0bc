"""The background-task verbs: submit, bulk submit, cancel, bulk cancel, retry.

Each is one transaction, checks the caller's role in the workspace, and raises domain errors
(tasks/errors.py). Messages go to the broker and events to realtime only after the commit.
`actor` is an accounts.scoping.Actor (or a User); None means the system itself (the beat
schedule, the admin after its own permission checks).
"""

from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Role, User, Workspace
from accounts.scoping import Actor, require_role, scope_to_workspaces, workspaces_for
from audit.services import Change, record_changes
from tasks import dispatch, events
from tasks.errors import (
    BulkInvalid,
    BulkTooLarge,
    IdempotencyConflict,
    InvalidTask,
    TaskNotCancellable,
    TaskNotFound,
    TaskNotRetryable,
)
from tasks.models import FINISHED, RETRYABLE, BackgroundTask, Status
from tasks.validation import SUBMIT_FIELDS, Submission, check_submission


def _as_actor(actor) -> Actor | None:
    if actor is None or isinstance(actor, Actor):
        return actor
    if isinstance(actor, User):
        return Actor(user=actor)
    raise TypeError(f"actor must be an Actor, a User or None, not {type(actor).__name__}")


def _audit(tasks: list[BackgroundTask], event: str, actor: Actor | None) -> None:
    """Explicit audit rows for what a person does to tasks (queryset updates and bulk
    inserts never reach django-auditlog), one per task, written in one statement; the
    system's own jobs and a worker's status changes are not audited."""
    if actor is None:
        return
    record_changes(
        model="tasks.BackgroundTask",
        event=event,
        actor=actor.user,
        items=[
            Change(
                object_id=str(task.pk),
                workspace=task.workspace_id,
                object_repr=task.name or task.task_type,
                details={"task_type": task.task_type, "priority": task.priority},
            )
            for task in tasks
        ],
    )


def default_workspace(actor: Actor) -> Workspace | None:
    if actor.api_key is not None:
        return actor.api_key.workspace
    reachable = workspaces_for(actor)
    return reachable.filter(is_personal=True).first() or reachable.first()


def _resolve_workspace(actor: Actor | None, workspace) -> Workspace | None:
    if actor is None:
        return workspace
    workspace = workspace or default_workspace(actor)
    if workspace is None:
        raise InvalidTask(
            "You have no workspace to run tasks in.", details={"workspace": ["Required."]}
        )
    require_role(actor, workspace, Role.EDITOR)
    return workspace


def _same_submission(existing: BackgroundTask, spec: Submission, workspace) -> bool:
    return (
        existing.task_type == spec.fields["task_type"]
        and existing.payload == spec.fields["payload"]
        and existing.workspace_id == (workspace.pk if workspace else None)
    )


def _existing_for_key(actor: Actor | None, spec: Submission, workspace) -> BackgroundTask | None:
    if spec.idempotency_key is None or actor is None:
        return None
    existing = BackgroundTask.objects.filter(
        submitted_by=actor.user, idempotency_key=spec.idempotency_key
    ).first()
    if existing is not None and not _same_submission(existing, spec, workspace):
        raise IdempotencyConflict(
            details={"idempotency_key": ["Already used for a different submission."]}
        )
    return existing


def _new_record(actor: Actor | None, spec: Submission, workspace) -> BackgroundTask:
    return BackgroundTask(
        workspace=workspace,
        submitted_by=actor.user if actor else None,
        idempotency_key=spec.idempotency_key if actor else None,
        celery_task_id=dispatch.new_message_id(),
        status=Status.PENDING,
        **spec.fields,
    )


def submit_task(
    *,
    actor,
    task_type: str,
    name: str = "",
    payload: dict | None = None,
    priority: str | None = None,
    scheduled_for=None,
    delay_seconds=None,
    timeout: int | None = None,
    max_retries: int | None = None,
    idempotency_key: str | None = None,
    workspace=None,
) -> BackgroundTask:
    """Save a task and queue it once the transaction commits. With an `idempotency_key` that
    this user already submitted with the same type, payload and workspace, the earlier task is
    returned instead (its `created_now` is False)."""
    actor = _as_actor(actor)
    spec = check_submission(
        actor=actor,
        task_type=task_type,
        name=name,
        payload=payload,
        priority=priority,
        scheduled_for=scheduled_for,
        delay_seconds=delay_seconds,
        timeout=timeout,
        max_retries=max_retries,
        idempotency_key=idempotency_key,
        now=timezone.now(),
    )
    workspace = _resolve_workspace(actor, workspace)
    existing = _existing_for_key(actor, spec, workspace)
    if existing is not None:
        existing.created_now = False
        return existing
    try:
        with transaction.atomic():
            record = _new_record(actor, spec, workspace)
            record.save(force_insert=True)
            _audit([record], "task.submitted", actor)
            dispatch.dispatch_on_commit([record])
    except IntegrityError:
        # The same key raced in from another request: answer like the repeat it is.
        existing = _existing_for_key(actor, spec, workspace)
        if existing is None:
            raise
        existing.created_now = False
        return existing
    record.created_now = True
    return record


def submit_system_task(*, task_type: str, payload: dict | None = None) -> BackgroundTask:
    """A job of the system itself (the beat schedule): no workspace, no submitter."""
    return submit_task(actor=None, task_type=task_type, payload=payload)


@transaction.atomic
def bulk_submit_tasks(*, actor, items: list[dict], workspace=None) -> list[BackgroundTask]:
    """Validate every item first; queue all of them or none. A bad item is named by its index
    in `details` as {"tasks": {"<index>": {<field>: [...]}}}."""
    actor = _as_actor(actor)
    if len(items) > settings.TASKS_BULK_LIMIT:
        raise BulkTooLarge(
            f"At most {settings.TASKS_BULK_LIMIT} tasks per bulk request; got {len(items)}.",
            details={"limit": settings.TASKS_BULK_LIMIT, "received": len(items)},
        )
    if not items:
        raise InvalidTask("Give at least one task.", details={"tasks": ["Must not be empty."]})
    workspace = _resolve_workspace(actor, workspace)
    now = timezone.now()
    specs: list[tuple[Submission, BackgroundTask | None]] = []
    problems: dict[str, dict] = {}
    first_message = ""
    seen_keys: set[str] = set()
    for index, item in enumerate(items):
        unknown = set(item) - set(SUBMIT_FIELDS)
        try:
            if unknown:
                raise InvalidTask(
                    f"unknown field(s): {', '.join(sorted(unknown))}",
                    details={f: ["Unknown field."] for f in sorted(unknown)},
                )
            spec = check_submission(actor=actor, now=now, **item)
            key = spec.idempotency_key
            if key is not None and key in seen_keys:
                raise InvalidTask(
                    "idempotency_key: repeated in this request",
                    details={"idempotency_key": ["Repeated in this request."]},
                )
            if key is not None:
                seen_keys.add(key)
            existing = _existing_for_key(actor, spec, workspace)
        except (InvalidTask, IdempotencyConflict) as exc:
            problems[str(index)] = exc.details
            first_message = first_message or f"tasks[{index}]: {exc.message}"
            continue
        specs.append((spec, existing))
    if problems:
        raise BulkInvalid(
            f"{len(problems)} of {len(items)} tasks are invalid; none was queued. {first_message}",
            details={"tasks": problems},
        )
    records: list[BackgroundTask] = []
    new_records: list[BackgroundTask] = []
    for spec, existing in specs:
        if existing is not None:
            existing.created_now = False
            records.append(existing)
            continue
        record = _new_record(actor, spec, workspace)
        record.created_now = True
        records.append(record)
        new_records.append(record)
    BackgroundTask.objects.bulk_create(new_records, batch_size=500)
    _audit(new_records, "task.submitted", actor)
    dispatch.dispatch_on_commit(new_records)
    return records


def _check_write(actor: Actor | None, task: BackgroundTask) -> None:
    if actor is None:
        return
    if task.workspace_id is None:
        if not actor.user.is_staff:
            raise TaskNotFound()
        return
    require_role(actor, task.workspace_id, Role.EDITOR)


def _cancel_fields(now) -> dict:
    return {"status": Status.CANCELLED, "finished_at": now, "updated_at": now, "run_after": None}


@transaction.atomic
def cancel_task(*, actor, task: BackgroundTask) -> BackgroundTask:
    """Cancel a task that has not finished. A queued one never runs (its message is revoked,
    and a worker skips a cancelled record anyway); a running one stops at its next
    `check_cancelled()`, and whatever it returns after that is discarded."""
    actor = _as_actor(actor)
    _check_write(actor, task)
    now = timezone.now()
    updated, before = 0, None
    for _ in range(3):  # the status may move on (queued -> running) between read and write
        before = BackgroundTask.objects.filter(pk=task.pk).values_list("status", flat=True).first()
        if before is None or before in FINISHED:
            break
        updated = BackgroundTask.objects.filter(pk=task.pk, status=before).update(
            **_cancel_fields(now), error=_cancelled_by(actor)
        )
        if updated:
            break
    task.refresh_from_db()
    if not updated:
        raise TaskNotCancellable(
            f"The task has already finished ({task.status}); there is nothing to cancel.",
            details={"status": task.status},
        )
    _audit([task], "task.cancelled", actor)
    if before != Status.RUNNING:
        # A running attempt stops at its next check; revoking its message as well would leave
        # it unacknowledged in some pools (the worker's prefetch slot stays taken).
        dispatch.revoke_on_commit([task.celery_task_id])
    events.publish_on_commit(task, "cancelled")
    return task


def _cancelled_by(actor: Actor | None) -> str:
    return f"Cancelled by {actor.user.get_username()}." if actor else "Cancelled."


@transaction.atomic
def bulk_cancel_tasks(*, actor, ids: list) -> dict:
    """Cancel every unfinished task among `ids` (all must be visible to the caller, or 404);
    finished ones are reported, not refused."""
    actor = _as_actor(actor)
    if len(ids) > settings.TASKS_BULK_LIMIT:
        raise BulkTooLarge(
            f"At most {settings.TASKS_BULK_LIMIT} ids per bulk request; got {len(ids)}.",
            details={"limit": settings.TASKS_BULK_LIMIT, "received": len(ids)},
        )
    wanted = list(dict.fromkeys(str(i) for i in ids))
    visible = BackgroundTask.objects.filter(pk__in=wanted)
    if actor is not None:
        visible = scope_to_workspaces(visible, actor, min_role=Role.VIEWER)
    found = {str(t.pk): t for t in visible}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise TaskNotFound(
            f"{len(missing)} of the tasks were not found.", details={"ids": {"not_found": missing}}
        )
    checked: set = set()
    for task in found.values():  # one role check per workspace, not per task
        if task.workspace_id not in checked:
            _check_write(actor, task)
            checked.add(task.workspace_id)
    now = timezone.now()
    open_ids = [pk for pk, t in found.items() if t.status not in FINISHED]
    BackgroundTask.objects.filter(pk__in=open_ids).exclude(status__in=FINISHED).update(
        **_cancel_fields(now), error=_cancelled_by(actor)
    )
    after = {str(t.pk): t for t in BackgroundTask.objects.filter(pk__in=wanted)}
    cancelled = [pk for pk in open_ids if after[pk].status == Status.CANCELLED]
    _audit([after[pk] for pk in cancelled], "task.cancelled", actor)
    not_running = [pk for pk in cancelled if found[pk].status != Status.RUNNING]
    dispatch.revoke_on_commit([after[pk].celery_task_id for pk in not_running])
    for pk in cancelled:
        events.publish_on_commit(after[pk], "cancelled")
    return {
        "cancelled": cancelled,
        "already_finished": [
            {"id": pk, "status": after[pk].status} for pk in wanted if pk not in cancelled
        ],
    }


@transaction.atomic
def retry_task(*, actor, task: BackgroundTask) -> BackgroundTask:
    """Run a failed or timed-out task again, from scratch, with a fresh retry budget."""
    actor = _as_actor(actor)
    _check_write(actor, task)
    now = timezone.now()
    updated = BackgroundTask.objects.filter(pk=task.pk, status__in=RETRYABLE).update(
        status=Status.PENDING,
        attempts=0,
        progress=0,
        progress_message="",
        result=None,
        error="",
        traceback="",
        worker="",
        started_at=None,
        deadline_at=None,
        finished_at=None,
        duration_ms=None,
        run_after=None,
        queued_at=None,
        celery_task_id=dispatch.new_message_id(),
        resubmissions=task.resubmissions + 1,
        updated_at=now,
    )
    task.refresh_from_db()
    if not updated:
        raise TaskNotRetryable(
            f"Only a failed or timed-out task can be retried; this one is {task.status}.",
            details={"status": task.status},
        )
    _audit([task], "task.retried", actor)
    dispatch.dispatch_on_commit([task])
    return task


def record_progress(*, task: BackgroundTask, percent: int, message: str = "") -> None:
    """Called by TaskContext.progress() in the worker."""
    message = message[:500]
    BackgroundTask.objects.filter(pk=task.pk, status=Status.RUNNING).update(
        progress=percent, progress_message=message, updated_at=timezone.now()
    )
    task.progress, task.progress_message = percent, message
    events.publish(task, "progress")


def delete_finished_before(*, cutoff: datetime) -> int:
    """Retention: delete finished records that finished before `cutoff`."""
    old = BackgroundTask.objects.filter(status__in=FINISHED).filter(
        Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created_at__lt=cutoff)
    )
    deleted, _ = old.delete()
    return deleted
