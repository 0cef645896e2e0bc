"""Fixtures shared by every app's tests."""

import pytest
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Role

STRONG_PASSWORD = "Correct-Horse-42-battery"


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


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker (threads, in this process) consuming high, default and low.

    The tests that use it see committed data only, hence transactional_db.
    """
    from config.testing import in_process_worker

    with in_process_worker(concurrency=2) as worker:
        yield worker


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
    # The per-IP login limit counts every test's logins from 127.0.0.1 in the same minute;
    # tests of that limit set their own rate.
    settings.LOGIN_RATE = "10000/m"
    from accounts import policies

    policies.invalidate()
