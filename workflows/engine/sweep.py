"""The lease sweep (the `maintenance.sweep_step_leases` task type, on the beat schedule every
ENGINE_SWEEP_SECONDS): the engine's recovery path.

A running step whose lease expired lost its worker (killed, out of memory, host gone): it is
queued again, or failed if it has used all its attempts. A step queued long ago that no worker
has claimed lost its message (broker restarted before it was written): it is sent again. A
duplicate message is harmless, because claims are conditional.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from workflows.engine import state
from workflows.engine.dispatch import CELERY, Dispatcher, Wakeup, new_task_id, send_on_commit
from workflows.engine.events import Outbox
from workflows.models import StepRun, StepStatus

logger = logging.getLogger(__name__)


def sweep_leases(*, dispatcher: Dispatcher = CELERY) -> dict:
    now = timezone.now()
    expired = StepRun.objects.filter(status=StepStatus.RUNNING, lease_expires_at__lt=now)
    requeued = failed = resent = 0
    for run_id in sorted(set(expired.values_list("run_id", flat=True))):
        with transaction.atomic():
            run, rows = state.lock(run_id)
            outbox = Outbox(run, dispatcher=dispatcher)
            for row in rows.values():
                if row.status != StepStatus.RUNNING or not row.lease_expires_at:
                    continue
                if row.lease_expires_at >= now:
                    continue
                row.lease_expires_at = None
                row.error_code = "lease_expired"
                row.error = f"The worker running attempt {row.attempts} stopped answering."
                if row.attempts < row.max_attempts:
                    row.status = StepStatus.QUEUED
                    row.queued_at = now
                    row.task_id = new_task_id()
                    row.save(
                        update_fields=[
                            "status",
                            "queued_at",
                            "task_id",
                            "lease_expires_at",
                            "error",
                            "error_code",
                        ]
                    )
                    outbox.step(run, row, "retrying")
                    outbox.wake([Wakeup(row.pk, row.task_id, state.queue_for(run))])
                    requeued += 1
                else:
                    row.status = StepStatus.FAILED
                    row.finished_at = now
                    row.save(
                        update_fields=[
                            "status",
                            "finished_at",
                            "lease_expires_at",
                            "error",
                            "error_code",
                        ]
                    )
                    outbox.step(run, row)
                    state.fail_run(
                        run,
                        rows,
                        code="lease_expired",
                        message=f"Step '{row.key}' failed: {row.error}",
                        outbox=outbox,
                        now=now,
                    )
                    failed += 1
            outbox.flush_on_commit()
    stale_before = now - timedelta(seconds=settings.ENGINE_STALE_QUEUED_SECONDS)
    stale = StepRun.objects.filter(
        status=StepStatus.QUEUED, queued_at__lt=stale_before
    ).select_related("run")
    for row in stale:
        task_id = new_task_id()
        # Conditional: a worker may claim it meanwhile; then there is nothing to resend.
        if StepRun.objects.filter(pk=row.pk, status=StepStatus.QUEUED).update(
            queued_at=now, task_id=task_id
        ):
            with transaction.atomic():
                send_on_commit([Wakeup(row.pk, task_id, state.queue_for(row.run))], dispatcher)
            resent += 1
    if requeued or failed or resent:
        logger.info("lease sweep", extra={"requeued": requeued, "failed": failed, "resent": resent})
    return {"requeued": requeued, "failed": failed, "resent": resent}
