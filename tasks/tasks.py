"""Celery tasks of the tasks app: thin wrappers, stable names, safe to run twice."""

from billiard.exceptions import TimeLimitExceeded
from celery import Task, shared_task

from tasks import runner, services


class ExecuteTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # A hard time limit kills the child process; the parent reports it here.
        if isinstance(exc, TimeLimitExceeded) and args:
            runner.mark_killed(
                args[0],
                reason=(
                    "Time limit exceeded: the worker killed the attempt at its hard time limit "
                    f"({exc.args[0] if exc.args else '?'}s)."
                ),
            )


@shared_task(
    name="tasks.execute",
    bind=True,
    base=ExecuteTask,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
)
def execute(self, task_id: str) -> str:
    """Run one BackgroundTask record (any registered type)."""
    return runner.run(task_id, worker=self.request.hostname or "")


@shared_task(name="tasks.run_periodic", ignore_result=True, queue="default")
def run_periodic(task_type: str, payload: dict | None = None) -> str:
    """What the beat schedule calls: submit a system task of a registered type."""
    return str(services.submit_system_task(task_type=task_type, payload=payload).pk)
