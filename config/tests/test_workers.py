"""The worker fixtures every integration test relies on actually run tasks."""

import signal

import pytest

from config.celery_app import app
from config.testing import start_worker_process, wait_until

pytestmark = pytest.mark.integration


def test_in_process_worker_runs_a_task(celery_worker):
    from celery.contrib.testing.tasks import ping

    assert ping.delay().get(timeout=10) == "pong"


@pytest.mark.django_db(transaction=True)
def test_worker_process_starts_on_the_test_database(tmp_path):
    process = start_worker_process(log_path=tmp_path / "worker.log")
    try:
        replies = wait_until(
            lambda: app.control.ping(timeout=0.5), timeout=60, message="a worker to answer"
        )
        assert any(name.startswith("test-") for reply in replies for name in reply)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_a_worker_freezes_what_it_loaded_before_forking_a_pool_child():
    """What the parent loaded is out of the collector's sight before each fork (a full
    collection in the parent then scans only what came later)."""
    import gc

    from celery.signals import worker_before_create_process

    gc.unfreeze()
    try:
        worker_before_create_process.send(sender=None)
        assert gc.get_freeze_count() > 100_000  # Django and the apps, at least
    finally:
        gc.unfreeze()
