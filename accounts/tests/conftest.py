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
