import pyotp
import pytest

from conftest import STRONG_PASSWORD


@pytest.fixture
def login(api):
    """POST the login; returns the response (tokens, or mfa_required)."""

    def do(username="alice", password=STRONG_PASSWORD, client=None, **extra):
        client = client or api
        return client.post(
            "/api/v3/auth/login",
            {"username": username, "password": password},
            format="json",
            **extra,
        )

    return do


@pytest.fixture
def bearer():
    """An APIClient carrying an access token."""
    from rest_framework.test import APIClient

    def make(access: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        return client

    return make


@pytest.fixture
def enrol_mfa(client_for, settings):
    """Turn MFA on for a user through the API; returns (pyotp.TOTP, recovery codes)."""
    settings.MFA_THROTTLE_FACTOR = 0  # wrong codes in a test need not wait

    def enrol(user):
        client = client_for(user)
        started = client.post("/api/v3/security/mfa/totp")
        assert started.status_code == 201, started.content
        totp = pyotp.TOTP(started.json()["secret"])
        confirmed = client.post(
            "/api/v3/security/mfa/totp/confirm", {"code": totp.now()}, format="json"
        )
        assert confirmed.status_code == 200, confirmed.content
        return totp, confirmed.json()["recovery_codes"]

    return enrol


@pytest.fixture
def staff_user(make_user):
    admin = make_user("root")
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    return admin


@pytest.fixture
def tokens_for(login):
    """Log `username` in through the API; returns the token pair."""

    def make(username="alice", password=STRONG_PASSWORD) -> dict:
        response = login(username, password)
        assert response.status_code == 200, response.content
        return response.json()

    return make


@pytest.fixture
def mails(django_capture_on_commit_callbacks):
    """Mail sent after commit: runs the on-commit callbacks of the block, returns the outbox."""
    from contextlib import contextmanager

    from django.core import mail

    @contextmanager
    def sent():
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            yield mail.outbox

    return sent
