"""Recovery without waiting for timeouts: leases renewed by the running worker, queued steps
whose message was lost sent again at once, steps that outlive their own timeout retried."""

import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts.scoping import Actor
from config.testing import raw_connection, start_worker_process, wait_until
from workflows.engine import lease, sql, start_run, sweep_leases
from workflows.engine.dispatch import soft_limit, time_limits
from workflows.engine.steps import run_step
from workflows.engine.sweep import BROKER_MARKER, broker_restarted
from workflows.models import Document, RunStatus, StepRun, StepStatus
from workflows.tests.engine_support import chain, make_workflow, wait_for_run


def _claim(step_run: StepRun, seconds: float) -> StepRun:
    now = timezone.now()
    return sql.claim(step_run.pk, now=now, lease=now + timedelta(seconds=seconds))


@pytest.mark.django_db
def test_renewal_extends_only_the_attempt_this_process_holds(user, workspace, settings):
    settings.ENGINE_LEASE_SECONDS = 30
    run = start_run(actor=Actor(user), workflow=make_workflow(user, workspace, chain(1)))
    claimed = _claim(StepRun.objects.get(run=run), 1)
    held = lease.Held(claimed.pk, claimed.attempts, time.monotonic() + 60)
    assert lease.renew([held]) == 1
    renewed = StepRun.objects.get(pk=claimed.pk).lease_expires_at
    assert renewed > timezone.now() + timedelta(seconds=25)
    stale = lease.Held(claimed.pk, claimed.attempts - 1, time.monotonic() + 60)
    assert lease.renew([stale]) == 0  # another attempt's worker: not ours to renew
    StepRun.objects.filter(pk=claimed.pk).update(status=StepStatus.CANCELLED)
    assert lease.renew([held]) == 0


@pytest.mark.integration  # waits for a real lease to lapse
@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_keeps_a_running_step_and_stops_with_it(user, workspace, settings, no_worker):
    """The test holds the step itself: no worker may claim it first (the run is committed)."""
    settings.ENGINE_LEASE_SECONDS = 1
    settings.ENGINE_HEARTBEAT_SECONDS = 0.1
    run = start_run(actor=Actor(user), workflow=make_workflow(user, workspace, chain(1)))
    claimed = _claim(StepRun.objects.get(run=run), 1)
    first = StepRun.objects.get(pk=claimed.pk).lease_expires_at
    with lease.kept(claimed):
        wait_until(
            lambda: StepRun.objects.get(pk=claimed.pk).lease_expires_at > first,
            message="the heartbeat to renew the lease",
        )
        assert sweep_leases()["requeued"] == 0
    # Released: nobody renews it; once it lapses the sweep gives the step to another worker.
    wait_until(lambda: sweep_leases()["requeued"], message="the lease to lapse")
    assert StepRun.objects.get(pk=claimed.pk).error_code == "lease_expired"


@pytest.mark.django_db
def test_a_broker_that_restarted_empty_gets_every_queued_step_again(user, workspace):
    start_run(actor=Actor(user), workflow=make_workflow(user, workspace, chain(2)))
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    client.delete(BROKER_MARKER)  # what a restart without persistence does
    # Queued a moment ago (not stale), but its message was in the Redis that was lost.
    assert sweep_leases()["resent"] == 1
    assert sweep_leases()["resent"] == 0  # the marker is back: only stale steps from now on
    assert broker_restarted() is False
    client.close()


@pytest.mark.django_db
def test_a_step_that_could_not_be_sent_is_resent_by_the_next_sweep(
    user, workspace, monkeypatch, django_capture_on_commit_callbacks
):
    """The broker is down when the run starts: the run is created (201 for the API), its
    first step stays queued, marked for the sweep, which sends it once the broker answers."""
    from workflows.engine import dispatch

    broker_restarted()
    sent = []

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(dispatch.app, "send_task", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        run = start_run(actor=Actor(user), workflow=make_workflow(user, workspace, chain(1)))
    step = StepRun.objects.get(run=run)
    assert step.status == StepStatus.QUEUED

    monkeypatch.setattr(dispatch.app, "send_task", lambda *a, **kw: sent.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_leases()["resent"] == 1
    assert sent[0]["task_id"] == StepRun.objects.get(pk=step.pk).task_id
    assert sent[0]["soft_time_limit"] == soft_limit(step.timeout_seconds)


def test_time_limits_come_from_the_step_timeout(settings):
    settings.ENGINE_LEASE_GRACE_SECONDS = 15
    settings.ENGINE_FOLLOW_ON_SECONDS = 0.5
    assert time_limits(3600) == {"soft_time_limit": 3600.5, "time_limit": 3615.5}
    assert time_limits(None) == {}


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_message_never_runs_a_step_twice(user, workspace):
    """A message delivered again (the broker's visibility timeout, a requeue after a worker
    died) finds its step claimed or done: nothing runs, nothing is written twice."""
    from workflows.tests.engine_support import run_inline

    workflow = make_workflow(user, workspace, chain(2))
    run = run_inline(
        lambda inline: start_run(actor=Actor(user), workflow=workflow, inputs={}, dispatcher=inline)
    )
    steps = list(StepRun.objects.filter(run=run))
    for step in steps:
        assert run_step(step.pk, step.timeout_seconds) == "not-queued"
    assert Document.objects.filter(run=run).count() == 2
    assert all(s.attempts == 1 for s in StepRun.objects.filter(run=run))


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_step_past_its_own_timeout_is_a_retryable_step_timeout(user, workspace, tmp_path):
    """A real prefork worker: a 2 s step stuck past its timeout (its budget check waits on a
    table another session locked) gets the soft time limit from its own timeout, not
    Celery's global 540 s, recorded as a retryable `step_timeout`, and retried."""
    if connection.vendor != "postgresql":
        pytest.skip("holds a table lock from a second connection: PostgreSQL only")
    from ai.models import UsageRecord
    from workflows import services as workflow_services

    workflow_services.set_budget(
        actor=Actor(user), workspace=workspace, monthly_cost_limit=None, monthly_token_limit=10**9
    )
    definition = chain(1, timeout=2, retry={"max_attempts": 2, "backoff_seconds": 0.1})
    definition["steps"][0].update(kind="generate", model="offline/writer")
    workflow = make_workflow(user, workspace, definition)
    blocker = raw_connection()
    blocker.execute(f'LOCK TABLE "{UsageRecord._meta.db_table}" IN ACCESS EXCLUSIVE MODE')
    log = tmp_path / "worker.log"
    worker = start_worker_process(concurrency=1, log_path=log)
    try:
        # A loaded machine may take a minute to start a worker; the step's clock starts later.
        wait_until(lambda: b" ready." in log.read_bytes(), timeout=300, message="the worker")
        run = start_run(actor=Actor(user), workflow=workflow, inputs={})
        wait_until(
            lambda: StepRun.objects.get(run=run).status == StepStatus.FAILED,
            timeout=120,
            message="the step to time out twice",
        )
    finally:
        blocker.rollback()
        blocker.close()
        worker.terminate()
        worker.wait(timeout=30)
    run = wait_for_run(run)
    step = StepRun.objects.get(run=run)
    assert (step.error_code, step.attempts) == ("step_timeout", 2), (
        tmp_path / "worker.log"
    ).read_text()[-3000:]
    assert run.status == RunStatus.FAILED and run.error_code == "step_timeout"
