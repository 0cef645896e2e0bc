"""Errors of the background-task app.

Two families: exceptions a task type raises *inside* a worker (TransientTaskError,
TaskCancelled, TaskTimedOut), and domain errors the API reports in the one error shape.
"""

from config.errors import Conflict, DomainError, NotFound

# --- Raised inside a running task ---------------------------------------------------------


class TransientTaskError(Exception):
    """Raise it from a task type for a failure worth retrying (a timeout, a rate limit, a
    connection reset): the task is retried with exponential backoff and jitter until its
    `max_retries` are used up. `retry_after` (seconds) overrides the computed delay."""

    def __init__(self, message: str = "transient failure", *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class TaskCancelled(Exception):  # noqa: N818 - a signal to stop, not a failure
    """Raised by `TaskContext.check_cancelled()` once the task was cancelled."""


class TaskTimedOut(Exception):  # noqa: N818
    """Raised by `TaskContext.check_cancelled()` once the task is past its time limit (this is
    how limits hold in pools without signals, such as the threads pool)."""


# --- Domain errors (the API's 4xx) --------------------------------------------------------


class InvalidTask(DomainError):
    """A submission that cannot be accepted; `details` is field-by-field."""

    code = "validation_error"
    default_message = "The task submission is invalid."


class UnknownTaskType(InvalidTask):
    code = "unknown_task_type"
    default_message = "No task type has that name."


class InvalidPayload(InvalidTask):
    code = "invalid_payload"
    default_message = "The payload does not match the task type's schema."


class BulkInvalid(InvalidTask):
    """One or more items of a bulk request are invalid; nothing was queued."""


class BulkTooLarge(DomainError):
    code = "bulk_limit_exceeded"
    default_message = "Too many items in one bulk request."


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"
    default_message = "That idempotency key was already used for a different submission."


class TaskNotCancellable(Conflict):
    code = "task_finished"
    default_message = "The task has already finished; there is nothing to cancel."


class TaskNotRetryable(Conflict):
    code = "task_not_retryable"
    default_message = "Only a failed or timed-out task can be retried."


class TaskNotFound(NotFound):
    code = "not_found"


class WorkerNotFound(NotFound):
    code = "worker_not_found"
    default_message = "No live worker has that name."


class ControlUnavailable(DomainError):
    status_code = 503
    code = "broker_unavailable"
    default_message = "The broker did not answer; try again shortly."


class ControlRefused(Conflict):
    code = "worker_refused"
    default_message = "The worker refused the command."
