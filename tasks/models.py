"""BackgroundTask: one row per submitted job. The row is the truth; Celery messages only wake
a worker up to run it (see tasks/runner.py)."""

import uuid

from django.conf import settings
from django.db import models


class Status(models.TextChoices):
    PENDING = "pending", "Pending"  # saved, message not yet handed to the broker
    SCHEDULED = "scheduled", "Scheduled"  # handed over with an eta in the future
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Retrying"  # failed transiently; the next attempt is scheduled
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    TIMED_OUT = "timed_out", "Timed out"
    CANCELLED = "cancelled", "Cancelled"


# A worker may claim a task in one of these states (and only then).
CLAIMABLE = (Status.PENDING, Status.SCHEDULED, Status.QUEUED, Status.RETRYING)
FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT, Status.CANCELLED)
RETRYABLE = (Status.FAILED, Status.TIMED_OUT)


class Priority(models.TextChoices):
    HIGH = "high", "High"
    NORMAL = "normal", "Normal"
    LOW = "low", "Low"


class BackgroundTask(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Null for system jobs (the beat schedule); those are visible in the admin only.
    workspace = models.ForeignKey(
        "accounts.Workspace",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="background_tasks",
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="background_tasks",
    )
    task_type = models.CharField(max_length=100, db_index=True)
    name = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    max_retries = models.PositiveIntegerField(default=0)
    timeout = models.PositiveIntegerField(help_text="Seconds one attempt may run.")
    scheduled_for = models.DateTimeField(null=True, blank=True)
    # When the current message is due (scheduled start or the next retry); a worker never
    # starts an attempt before it.
    run_after = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    resubmissions = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)  # the latest attempt's start
    deadline_at = models.DateTimeField(null=True, blank=True)  # started_at + timeout + grace
    finished_at = models.DateTimeField(null=True, blank=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["workspace", "status"]),
            models.Index(fields=["status", "finished_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["submitted_by", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="one_task_per_idempotency_key",
            ),
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="progress_at_most_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_type} {self.name or self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED
