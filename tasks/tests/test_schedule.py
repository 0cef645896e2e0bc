"""The default beat schedule and the maintenance jobs it runs."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from tasks import runner, schedule
from tasks.models import BackgroundTask, Status
from tasks.registry import get_task_type
from tasks.tasks import run_periodic

pytestmark = pytest.mark.django_db


def test_the_default_schedule_exists_after_migrate():
    entries = {p.name: p for p in PeriodicTask.objects.filter(task="tasks.run_periodic")}
    for name in ("maintenance.cleanup_tasks", "maintenance.flush_expired_tokens"):
        entry = entries[f"{name} (default schedule)"]
        assert entry.enabled and entry.crontab is not None
        assert json.loads(entry.kwargs) == {"task_type": name, "payload": {}}
    recover = entries["maintenance.recover_tasks (default schedule)"]
    assert recover.interval.every == 30 and recover.interval.period == "seconds"
    release = entries["maintenance.release_scheduled (default schedule)"]
    assert release.interval.every == 60


def test_installing_again_leaves_edited_entries_alone():
    entry = PeriodicTask.objects.get(name="maintenance.cleanup_tasks (default schedule)")
    entry.enabled = False
    entry.save()
    assert schedule.install_default_schedule() == []
    entry.refresh_from_db()
    assert entry.enabled is False
    entry.delete()
    assert schedule.install_default_schedule() == ["maintenance.cleanup_tasks (default schedule)"]


def test_any_registered_type_can_be_scheduled():
    echo = get_task_type("diagnostics.echo")
    assert schedule.schedule_task_type(echo, schedule={"every": 60, "payload": {"ping": 1}})
    entry = PeriodicTask.objects.get(name="diagnostics.echo (default schedule)")
    assert json.loads(entry.kwargs)["payload"] == {"ping": 1}


def test_a_periodic_run_is_a_system_task():
    task_id = run_periodic("maintenance.cleanup_tasks", {"days": 7})
    task = BackgroundTask.objects.get(pk=task_id)
    assert task.workspace is None and task.submitted_by is None
    assert runner.run(task_id) == Status.SUCCEEDED


def test_cleanup_deletes_old_finished_records_only(settings):
    settings.TASKS_RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=31)
    make = lambda status, finished_at: BackgroundTask.objects.create(  # noqa: E731
        task_type="diagnostics.echo", timeout=5, status=status, finished_at=finished_at
    )
    gone = make(Status.SUCCEEDED, old)
    kept = [make(Status.SUCCEEDED, timezone.now()), make(Status.QUEUED, None)]
    BackgroundTask.objects.filter(pk=kept[1].pk).update(created_at=old)
    job = BackgroundTask.objects.create(task_type="maintenance.cleanup_tasks", timeout=60)
    assert runner.run(str(job.pk)) == Status.SUCCEEDED
    job.refresh_from_db()
    assert job.result == {"deleted": 1, "older_than_days": 30}
    assert not BackgroundTask.objects.filter(pk=gone.pk).exists()
    assert BackgroundTask.objects.filter(pk__in=[k.pk for k in kept]).count() == 2


def test_flush_expired_tokens(user):
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    OutstandingToken.objects.create(
        user=user, jti="old", token="x", expires_at=timezone.now() - timedelta(days=1)
    )
    OutstandingToken.objects.create(
        user=user, jti="new", token="y", expires_at=timezone.now() + timedelta(days=1)
    )
    job = BackgroundTask.objects.create(task_type="maintenance.flush_expired_tokens", timeout=60)
    assert runner.run(str(job.pk)) == Status.SUCCEEDED
    job.refresh_from_db()
    assert job.result == {"deleted": 1}
    assert list(OutstandingToken.objects.values_list("jti", flat=True)) == ["new"]


def test_recover_settles_tasks_whose_worker_died(settings):
    from config import broker
    from tasks import recovery

    broker.restarted(recovery.BROKER_MARKER)  # the broker kept its data (see the test below)
    long_ago = timezone.now() - timedelta(hours=1)
    make = lambda **f: BackgroundTask.objects.create(  # noqa: E731
        task_type="diagnostics.echo", timeout=5, **f
    )
    stuck_pending = make(status=Status.PENDING)
    BackgroundTask.objects.filter(pk=stuck_pending.pk).update(updated_at=long_ago)
    lost_with_retries = make(status=Status.RUNNING, attempts=1, max_retries=2, deadline_at=long_ago)
    lost_for_good = make(status=Status.RUNNING, attempts=1, max_retries=0, deadline_at=long_ago)
    healthy = make(status=Status.RUNNING, attempts=1, deadline_at=timezone.now() + timedelta(1))
    job = BackgroundTask.objects.create(task_type="maintenance.recover_tasks", timeout=60)
    assert runner.run(str(job.pk)) == Status.SUCCEEDED
    job.refresh_from_db()
    # (Messages that workers killed by other tests had taken may be given back too.)
    assert job.result.keys() == {"resent", "retried_lost", "failed_lost", "restored_messages"}
    assert {k: job.result[k] for k in ("resent", "retried_lost", "failed_lost")} == {
        "resent": 1,
        "retried_lost": 1,
        "failed_lost": 1,
    }
    statuses = dict(BackgroundTask.objects.values_list("pk", "status"))
    assert statuses[lost_with_retries.pk] == Status.RETRYING
    assert statuses[lost_for_good.pk] == Status.FAILED
    assert statuses[healthy.pk] == Status.RUNNING
    # The resent messages would run on a worker: take them back off the queue.
    from config.celery_app import app

    app.control.purge()


def test_after_the_broker_restarted_empty_recovery_sends_every_queued_task_again(monkeypatch):
    """Redis keeps nothing on disk: restarted, the messages of queued tasks are gone. The
    first recovery after it sends them all again, once; later ones leave a backlog alone."""
    import redis
    from django.conf import settings

    from tasks import dispatch, recovery

    make = lambda **f: BackgroundTask.objects.create(  # noqa: E731
        task_type="diagnostics.echo", timeout=5, **f
    )
    queued = make(status=Status.QUEUED, queued_at=timezone.now())
    due_later = timezone.now() + timedelta(minutes=5)
    sent_with_eta = make(status=Status.SCHEDULED, run_after=due_later, queued_at=timezone.now())
    held = make(status=Status.SCHEDULED, run_after=due_later + timedelta(days=1))
    retrying = make(status=Status.RETRYING, run_after=due_later)
    running = make(status=Status.RUNNING, attempts=1, deadline_at=due_later)
    sent = []
    monkeypatch.setattr(dispatch, "send", lambda task, **kw: sent.append(task.pk))

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(recovery.BROKER_MARKER)  # what a restart without persistence does
    assert recovery.recover_stalled()["resent"] == 3
    assert sorted(sent) == sorted([queued.pk, sent_with_eta.pk, retrying.pk])
    assert held.pk not in sent and running.pk not in sent
    assert recovery.recover_stalled()["resent"] == 0  # the marker is back
    client.close()
