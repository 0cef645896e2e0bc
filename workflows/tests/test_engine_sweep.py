"""The lease sweep, its beat schedule, and scheduled runs."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.scoping import Actor
from workflows.engine import start_run, sweep_leases
from workflows.models import Run, RunStatus, Schedule, StepRun, StepStatus, Trigger
from workflows.tasks import run_schedule
from workflows.tests.engine_support import chain, make_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def broker_has_been_up():
    """The broker kept its data: only stale steps are resent (test_engine_recovery.py covers
    a broker that restarted empty)."""
    from workflows.engine.sweep import broker_restarted

    broker_restarted()  # sets the marker if this Redis database lacks it


def test_migrate_installs_the_sweep_as_a_maintenance_beat_job(settings):
    task = PeriodicTask.objects.get(name="maintenance.sweep_step_leases (default schedule)")
    assert task.task == "tasks.run_periodic" and task.enabled
    assert json.loads(task.kwargs)["task_type"] == "maintenance.sweep_step_leases"
    assert task.interval.every == settings.ENGINE_SWEEP_SECONDS


def _running(run: Run, key: str, *, attempts: int, expired: bool = True) -> StepRun:
    lease = timezone.now() + timedelta(seconds=-5 if expired else 60)
    StepRun.objects.filter(run=run, key=key).update(
        status=StepStatus.RUNNING, attempts=attempts, lease_expires_at=lease
    )
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    return StepRun.objects.get(run=run, key=key)


def test_sweep_requeues_an_expired_lease_and_leaves_live_ones(user, workspace):
    workflow = make_workflow(user, workspace, chain(2))
    run = start_run(actor=Actor(user), workflow=workflow, inputs={})
    other = start_run(actor=Actor(user), workflow=workflow, inputs={})
    before = _running(run, "s1", attempts=1)
    _running(other, "s1", attempts=1, expired=False)

    assert sweep_leases() == {"requeued": 1, "failed": 0, "resent": 0}

    after = StepRun.objects.get(pk=before.pk)
    assert after.status == StepStatus.QUEUED and after.error_code == "lease_expired"
    assert after.task_id != before.task_id and after.lease_expires_at is None
    assert StepRun.objects.get(run=other, key="s1").status == StepStatus.RUNNING


def test_sweep_fails_a_step_that_used_all_its_attempts(user, workspace):
    workflow = make_workflow(user, workspace, chain(3))
    run = start_run(actor=Actor(user), workflow=workflow, inputs={})
    _running(run, "s1", attempts=3)

    assert sweep_leases()["failed"] == 1

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.error_code == "lease_expired"
    statuses = dict(StepRun.objects.filter(run=run).values_list("key", "status"))
    assert statuses == {"s1": "failed", "s2": "skipped", "s3": "skipped"}


def test_sweep_resends_a_step_queued_long_ago(user, workspace, settings):
    workflow = make_workflow(user, workspace, chain(1))
    run = start_run(actor=Actor(user), workflow=workflow, inputs={})
    old = timezone.now() - timedelta(seconds=settings.ENGINE_STALE_QUEUED_SECONDS + 5)
    StepRun.objects.filter(run=run).update(queued_at=old)
    before = StepRun.objects.get(run=run)

    assert sweep_leases()["resent"] == 1
    after = StepRun.objects.get(pk=before.pk)
    assert after.status == StepStatus.QUEUED and after.task_id != before.task_id
    assert sweep_leases()["resent"] == 0  # not again until it is stale again


def test_a_schedule_starts_a_run_with_trigger_schedule(user, workspace):
    workflow = make_workflow(user, workspace, chain(2))
    schedule = Schedule.objects.create(
        workflow=workflow,
        name="nightly",
        cron="0 3 * * *",
        inputs={"x": "night"},
        priority="low",
        created_by=user,
    )
    run = Run.objects.get(pk=run_schedule(schedule.pk))
    assert run.trigger == Trigger.SCHEDULE and run.priority == "low"
    assert run.inputs == {"x": "night"} and run.created_by == user

    schedule.enabled = False
    schedule.save()
    assert run_schedule(schedule.pk) is None
    assert run_schedule(999_999) is None
