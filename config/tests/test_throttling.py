"""One DRF throttle for every write API: per user, per API key, per scope, in Redis, 429 with
Retry-After; reads are not counted; plain APIViews are covered too."""

import time

import pytest

from accounts.models import ApiKey
from config.testing import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight(settings):
    settings.WRITE_RATES = {**settings.WRITE_RATES, "writes": "3/m", "imports": "2/m"}
    # The counters are per fixed minute: a test's requests must not straddle two of them
    # (CI once saw the 4th request counted in a new minute, answered 400 instead of 429).
    left = 60 - time.time() % 60
    if left < 15:
        time.sleep(left + 0.1)


def _create_workspace(client, name="w"):
    return client.post("/api/v3/workspaces/", {"name": name}, format="json")


def test_writes_over_the_rate_get_429_with_retry_after(tight, alice_api, client_for, other_user):
    for index in range(3):
        assert _create_workspace(alice_api, f"w{index}").status_code == 201
    refused = _create_workspace(alice_api)
    error = assert_error(refused, 429, "rate_limited")
    assert 0 < int(refused["Retry-After"]) <= 60
    assert error["details"]["retry_after_seconds"] > 0
    # Reads are not counted; another user has a counter of their own.
    assert alice_api.get("/api/v3/workspaces/").status_code == 200
    assert _create_workspace(client_for(other_user)).status_code == 201


def test_plain_api_views_are_covered_with_their_scope(tight, alice_api):
    # workflows/import is an APIView: its URL name picks the "imports" scope (2/m).
    statuses = [
        alice_api.post("/api/v3/workflows/import", {"definition": "x"}, format="json").status_code
        for _ in range(3)
    ]
    assert statuses[:2] != [429, 429] and statuses[2] == 429


def test_api_keys_are_counted_per_key(tight, api, workspace, user):
    _, first = ApiKey.objects.create_key(
        name="a", workspace=workspace, created_by=user, scopes=["read", "write"]
    )
    _, second = ApiKey.objects.create_key(
        name="b", workspace=workspace, created_by=user, scopes=["read", "write"]
    )
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {first}")
    codes = [
        api.post("/api/v3/workflows/", {"name": f"x{i}"}, format="json").status_code
        for i in range(4)
    ]
    assert codes[3] == 429 and 429 not in codes[:3]
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {second}")
    assert api.post("/api/v3/workflows/", {"name": "y"}, format="json").status_code != 429
