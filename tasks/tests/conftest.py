import pytest

from config.testing import start_worker_process, wait_until

SUBMIT = "/api/v3/background/tasks/submit"


@pytest.fixture
def fast_retries(settings):
    settings.TASKS_RETRY_BASE_DELAY = 0.05
    settings.TASKS_INSPECT_TIMEOUT = 0.5


@pytest.fixture
def submit(alice_api):
    """POST a submission as alice; return the task as the API answered it."""

    def do(client=None, expect=201, **body):
        response = (client or alice_api).post(SUBMIT, body, format="json")
        assert response.status_code == expect, response.content
        return response.json()

    return do


@pytest.fixture
def task_of(alice_api):
    def get(task_id, client=None):
        response = (client or alice_api).get(f"/api/v3/background/tasks/{task_id}/")
        assert response.status_code == 200, response.content
        return response.json()

    return get


@pytest.fixture
def single_worker(transactional_db, no_worker, fast_retries):
    """A real worker (threads, in this process) with ONE slot, consuming high, default, low
    (the shared one stopped meanwhile)."""
    from config.testing import in_process_worker

    with in_process_worker(concurrency=1) as worker:
        yield worker


@pytest.fixture
def prefork_worker(transactional_db, fast_retries, settings, tmp_path):
    """A real `celery worker` subprocess (prefork: time limits are enforced with signals)."""
    from config.celery_app import app

    settings.TASKS_HARD_LIMIT_GRACE = 1  # the hard limit travels in the message we send
    settings.TASKS_INSPECT_TIMEOUT = 2.0  # a busy prefork parent answers remote control late
    app.control.purge()
    log = tmp_path / "worker.log"
    process = start_worker_process(concurrency=2, log_path=log)
    try:
        replies = wait_until(
            lambda: app.control.ping(timeout=0.5), timeout=60, message="the worker to answer"
        )
        yield next(iter(replies[0]))  # its name
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except Exception:
            process.kill()
            process.wait()
