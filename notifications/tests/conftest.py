import uuid

import pytest

from notifications.tests.receivers import Receivers

SEND = "/api/v3/advanced/notifications/send"
BULK = "/api/v3/advanced/notifications/bulk"


@pytest.fixture(scope="session")
def receivers():
    """One SMTP server and one HTTP server for the whole run."""
    servers = Receivers().start()
    yield servers
    servers.stop()


@pytest.fixture
def local(settings, receivers):
    """Settings that deliver to the local receivers: SMTP to aiosmtpd, private URLs allowed
    (the receivers are on 127.0.0.1), fast retries, no rate limit left over from another
    test (a fresh cache namespace)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = receivers.smtp_port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.NOTIFICATIONS_ALLOW_PRIVATE_URLS = True
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 0.05
    settings.NOTIFICATIONS_RETRY_MAX_SECONDS = 0.2
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"nt-{uuid.uuid4().hex[:10]}"},
    }
    return receivers


@pytest.fixture
def unique_path():
    def make(prefix: str) -> str:
        return f"{prefix}/{uuid.uuid4().hex}"

    return make
