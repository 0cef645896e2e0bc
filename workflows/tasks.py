"""Celery tasks: thin, idempotent wrappers around the engine. They take ids only.

Queues are given per message: each step goes to its run's priority queue; beat entries name
theirs (the sweep runs on `high`).

`execute_step` is acked late and rejected (so redelivered) if its worker dies; the claim in
`engine.steps.run_step` makes a second delivery a no-op. A quick step's successor may run
in the same task (engine/follow_on.py).
"""

import logging

from celery import shared_task

from workflows.engine.dispatch import EXECUTE_STEP_TASK

# The engine is imported when a task runs (in the pool's child process), not here: imported in
# the worker's main process before it forks its pool, it made a new worker hang at start-up
# after another was killed -9 in the middle of a step (test_engine_durability). The cycle the
# old function-level imports dodged is gone (engine/dispatch.py sends this task by name).

logger = logging.getLogger(__name__)


@shared_task(
    name=EXECUTE_STEP_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def execute_step(step_run_id: int, lease_seconds: int | None = None) -> str:
    from workflows.engine.follow_on import run_with_follow_on

    return run_with_follow_on(step_run_id, lease_seconds)


@shared_task(name="workflows.sweep_leases", ignore_result=True)
def sweep_leases() -> dict:
    from workflows.engine.sweep import sweep_leases as sweep

    return sweep()


@shared_task(name="workflows.run_schedule", ignore_result=True)
def run_schedule(schedule_id: int) -> int | None:
    """Start a run for a schedule (beat calls this); a disabled or deleted one is skipped."""
    from workflows.engine.runs import start_run
    from workflows.models import Schedule, Trigger

    schedule = Schedule.objects.select_related("workflow").filter(pk=schedule_id).first()
    if schedule is None or not schedule.enabled:
        return None
    try:
        run = start_run(
            workflow=schedule.workflow,
            inputs=schedule.inputs,
            created_by=schedule.created_by,
            priority=schedule.priority,
            trigger=Trigger.SCHEDULE,
        )
    except Exception:
        logger.exception("scheduled run could not start", extra={"schedule": schedule_id})
        return None
    return run.pk
