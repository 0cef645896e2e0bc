"""A worker killed with messages it held and had not started (taken ahead with a prefetch above
1, or held for their eta): the next recovery gives them back to the broker (they would have
come back only after the broker's visibility timeout, an hour), and each task runs once."""

import signal

import pytest

from config import broker
from config.celery_app import app
from config.testing import start_worker_process, wait_until
from tasks.models import BackgroundTask, Status

pytestmark = pytest.mark.integration


def _held(ids: list[str]) -> set[str]:
    """Which of the records' messages a live worker holds."""
    messages = list(BackgroundTask.objects.filter(pk__in=ids).values_list("celery_task_id"))
    replies = app.control.inspect(timeout=0.5).query_task(*(m for (m,) in messages)) or {}
    return {message_id for held in replies.values() for message_id in held}


def _forget_unacked() -> None:
    """Start from a broker that holds no unacknowledged message (earlier tests' killed workers
    leave theirs)."""
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        channel.client.delete(channel.unacked_key, channel.unacked_index_key)


@pytest.mark.parametrize(
    ("worker_env", "busy_first", "waiting_items", "waiting_status"),
    [
        # Prefetch 4, one process: it runs a sleep and holds three echoes behind it.
        (
            {"CELERY_WORKER_PREFETCH_MULTIPLIER": "4"},
            True,
            [{"task_type": "diagnostics.echo", "payload": {"i": i}} for i in range(3)],
            Status.QUEUED,
        ),
        # The default prefetch (1): a task due in a few seconds is taken and held for its eta.
        (
            {},
            False,
            [{"task_type": "diagnostics.echo", "payload": {}, "delay_seconds": 5}],
            Status.SCHEDULED,
        ),
    ],
    ids=["prefetched", "held-for-eta"],
)
def test_what_a_killed_worker_held_runs_after_the_next_recovery(
    transactional_db, no_worker, fast_retries, submit, tmp_path,
    worker_env, busy_first, waiting_items, waiting_status,
):  # fmt: skip
    app.control.purge()
    _forget_unacked()
    first = start_worker_process(concurrency=1, log_path=tmp_path / "first.log", **worker_env)
    try:
        wait_until(lambda: app.control.ping(timeout=0.5), timeout=60, message="the worker")
        sleep = {"task_type": "diagnostics.sleep", "payload": {"seconds": 6, "mode": "blocking"}}
        busy = [submit(**sleep)["id"]] if busy_first else []
        waiting = [submit(**item)["id"] for item in waiting_items]
        ids = [*busy, *waiting]
        wait_until(lambda: len(_held(ids)) == len(ids), timeout=30, message="the worker to hold")
        assert broker.restore_orphans(older_than=0) == 0  # a live worker keeps what it holds
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    statuses = BackgroundTask.objects.filter(pk__in=waiting).values_list("status", flat=True)
    assert set(statuses) == {waiting_status}

    # No worker answers for them: all go back (a sleep's too; its record is running).
    assert broker.restore_orphans(older_than=0) == len(ids)
    assert broker.restore_orphans(older_than=0) == 0  # given back once

    second = start_worker_process(concurrency=2, log_path=tmp_path / "second.log")
    try:
        wait_until(
            lambda: (
                not BackgroundTask.objects.filter(pk__in=waiting)
                .exclude(status=Status.SUCCEEDED)
                .exists()
            ),
            timeout=60,
            message="the held tasks to run on the second worker",
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    # Each ran once (the sleep's second message found its record taken and left it alone).
    assert set(BackgroundTask.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}
