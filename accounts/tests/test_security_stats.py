"""GET /api/v3/security/stats: counted from the security events, sessions, MFA devices and
API keys of the caller's workspaces; other workspaces' figures stay out; staff see all."""

import pytest

from accounts.models import ApiKey
from config.testing import assert_error

pytestmark = pytest.mark.django_db


def test_stats_count_what_happened_in_my_workspaces(
    api, login, bearer, user, other_user, make_user
):
    login(password="wrong")
    login(password="wrong")
    tokens = login().json()
    login("mallory", password="wrong")  # not in alice's workspaces
    ApiKey.objects.create_key(
        name="k", workspace=user.workspaces.first(), created_by=user, scopes=["read"]
    )

    body = bearer(tokens["access"]).get("/api/v3/security/stats?time_range=hour").json()

    assert body["time_range"] == "hour"
    assert body["logins"] == {"succeeded": 1, "failed": 2, "mfa_failed": 0}
    assert body["sessions"]["active"] == 1
    assert body["mfa"] == {"members": 1, "enabled": 0, "adoption": 0.0}
    assert body["api_keys"]["active"] == 1
    assert body["api_keys"]["by_last_use"]["never"] == 1
    assert body["lockouts"] == 0 and body["open_alerts"] >= 0

    root = make_user("root")
    root.is_staff = True
    root.save(update_fields=["is_staff"])
    staff = login("root").json()
    everything = bearer(staff["access"]).get("/api/v3/security/stats?time_range=day").json()
    assert everything["scope"] == "all"
    assert everything["logins"]["failed"] >= 3


def test_bad_time_range_is_400(alice_api):
    assert_error(alice_api.get("/api/v3/security/stats?time_range=year"), 400, "validation_error")
