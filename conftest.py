"""Fixtures shared by every app's tests."""

import pytest
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Role

STRONG_PASSWORD = "Correct-Horse-42-battery"

# A test that uses one of these is an integration test (`make test-fast` leaves it out), whether
# or not it says so itself.
INTEGRATION_FIXTURES = {"celery_worker", "single_worker", "prefork_worker", "live_server"}


def pytest_configure(config):
    from config.testing import fast_flush_on_postgresql

    fast_flush_on_postgresql()


def pytest_collection_modifyitems(items):
    for item in items:
        if INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def make_user(db):
    counter = iter(range(1, 10_000))

    def make(username: str | None = None, password: str = STRONG_PASSWORD, **extra):
        name = username or f"user{next(counter)}"
        return services.register_user(
            username=name, password=password, email=extra.get("email", f"{name}@example.com")
        )

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def other_user(make_user):
    return make_user("mallory")


@pytest.fixture
def workspace(user):
    return services.personal_workspace(user)


@pytest.fixture
def other_workspace(other_user):
    return services.personal_workspace(other_user)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def client_for():
    """An API client authenticated as `user` (force_authenticate: JWT has its own tests)."""

    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def alice_api(client_for, user):
    return client_for(user)


@pytest.fixture
def add_member():
    def add(workspace, user, role=Role.VIEWER):
        from accounts.models import Membership

        return Membership.objects.create(workspace=workspace, user=user, role=role)

    return add


@pytest.fixture(scope="session")
def _smtp_server():
    from config.testing import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(settings, _smtp_server):
    """A real local SMTP server (aiosmtpd) that Django's email settings point at; read what
    arrived in `smtp.mails` (emptied for each test)."""
    _smtp_server.mails.clear()
    _smtp_server.use_in(settings)
    return _smtp_server


@pytest.fixture(scope="session")
def _shared_worker(django_db_setup, django_db_blocker):
    from config.testing import SHARED_WORKER

    yield SHARED_WORKER
    with django_db_blocker.unblock():
        SHARED_WORKER.stop()


@pytest.fixture
def celery_worker(transactional_db, _shared_worker):
    """A real Celery worker (threads, in this process) consuming high, default and low: one
    for the whole session (config.testing.SharedWorker), its queues emptied for each test.

    The tests that use it see committed data only, hence transactional_db.
    """
    from config.celery_app import app

    worker = _shared_worker.get()
    app.control.purge()  # what an earlier test left queued
    yield worker
    _shared_worker.settle()


@pytest.fixture
def no_worker(_shared_worker):
    """For tests that need no worker consuming (they count the workers, or start their own)."""
    _shared_worker.stop()


@pytest.fixture(autouse=True)
def _ai_cache_namespace(settings):
    """Each test gets its own AI response-cache and AI rate-limit namespace in the shared Redis:
    ids repeat between tests (rolled back), and a cached reply must not leak from one to another."""
    import uuid

    settings.AI_CACHE_PREFIX = f"ai-test-{uuid.uuid4().hex[:12]}"
    # The audit's per-window counters too (a high-volume event's first hit writes the row).
    settings.AUDIT_CACHE_PREFIX = f"audit-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(autouse=True)
def _security_namespaces(settings):
    """Write-throttle counters and cached security policies are in the shared Redis, keyed by
    ids that repeat between tests (rolled back): each test starts with its own."""
    import uuid

    settings.WRITE_THROTTLE_PREFIX = f"throttle-test-{uuid.uuid4().hex[:12]}"
    settings.NOTIFICATIONS_CACHE_PREFIX = f"notifications-test-{uuid.uuid4().hex[:12]}"
    # The per-IP login limit counts every test's logins from 127.0.0.1 in the same minute;
    # tests of that limit set their own rate.
    settings.LOGIN_RATE = "10000/m"
    settings.TOKEN_CONFIRM_RATE = "10000/m"  # invitation and email-change tokens, per IP
    from accounts import policies

    policies.invalidate()
