"""Lockout (django-axes) shared by every login path: the JWT login, the browsable API's
session login and the admin's. A locked account gets 429 + Retry-After, even with the right
password, until the cool-off ends or an admin unlocks it."""

import pytest
from axes.models import AccessAttempt

from config.testing import assert_error
from conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

WRONG = "not-the-password"


@pytest.fixture
def staff_api(client_for, make_user):
    admin = make_user("root")
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    return client_for(admin)


def _jwt(api, password, ip="192.0.2.10"):
    return api.post(
        "/api/v3/auth/login",
        {"username": "alice", "password": password},
        format="json",
        REMOTE_ADDR=ip,
    )


def _browsable(client, password, ip="192.0.2.10"):
    return client.post(
        "/api-auth/login/", {"username": "alice", "password": password}, REMOTE_ADDR=ip
    )


def _admin(client, password, ip="192.0.2.10", **headers):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "alice", "password": password},
        REMOTE_ADDR=ip,
        **headers,
    )


def test_failures_on_every_path_add_up_to_one_lockout(api, client, user, settings):
    assert settings.LOCKOUT_FAILURES == 5
    assert_error(_jwt(api, WRONG), 401, "invalid_credentials")
    _jwt(api, WRONG)
    assert _browsable(client, WRONG).status_code == 200  # the form again, with its error
    _admin(client, WRONG)
    assert_error(_jwt(api, WRONG), 429, "account_locked")  # the fifth failure locks

    # The right password, on every path, from the same IP: locked.
    locked = _jwt(api, STRONG_PASSWORD)
    assert_error(locked, 429, "account_locked")
    retry_after = int(locked["Retry-After"])
    assert 0 < retry_after <= settings.LOCKOUT_MINUTES * 60
    assert _browsable(client, STRONG_PASSWORD).status_code == 429
    page = _admin(client, STRONG_PASSWORD, HTTP_ACCEPT="text/html")
    assert page.status_code == 429 and int(page["Retry-After"]) > 0
    assert b"Too many failed logins" in page.content
    from audit.models import SecurityEvent

    locked = SecurityEvent.objects.filter(kind="auth.locked_out", username="alice")
    assert locked.exists()
    assert not SecurityEvent.objects.filter(details__icontains=STRONG_PASSWORD).exists()


def test_the_account_is_locked_from_any_ip(api, user):
    for index in range(5):
        _jwt(api, WRONG, ip=f"198.51.100.{index + 1}")  # a distributed guesser
    assert_error(_jwt(api, STRONG_PASSWORD, ip="203.0.113.200"), 429, "account_locked")


def test_browsable_api_lockout_after_many_tries_then_right_password(client, user):
    # The hole: many wrong passwords then the right one gave a working session.
    for _ in range(8):
        _browsable(client, WRONG)
    assert _browsable(client, STRONG_PASSWORD).status_code == 429
    assert client.get("/api/v3/auth/me").status_code in (401, 403)


def test_admin_unlocks_through_the_api(api, user, staff_api, client_for):
    for _ in range(5):
        _jwt(api, WRONG)
    assert_error(_jwt(api, STRONG_PASSWORD), 429)

    rows = staff_api.get("/api/v3/security/lockouts/").json()
    assert {"username": "alice", "locked": True}.items() <= rows[0].items()
    assert_error(client_for(user).get("/api/v3/security/lockouts/"), 403)
    unlocked = staff_api.post("/api/v3/security/lockouts/unlock/", {"username": "alice"})
    assert unlocked.status_code == 200 and unlocked.json()["attempts_cleared"] >= 1
    assert _jwt(api, STRONG_PASSWORD).status_code == 200
    assert not AccessAttempt.objects.filter(username="alice").exists()


def test_admin_action_unlocks(api, client, user, make_user):
    for _ in range(5):
        _jwt(api, WRONG)
    admin = make_user("root")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    response = client.post(
        "/admin/accounts/user/",
        {"action": "unlock_accounts", "_selected_action": [user.pk]},
    )
    assert response.status_code == 302
    assert _jwt(api, STRONG_PASSWORD).status_code == 200


def test_a_success_before_the_limit_resets_the_count(api, user):
    for _ in range(4):
        _jwt(api, WRONG)
    assert _jwt(api, STRONG_PASSWORD).status_code == 200
    for _ in range(4):
        _jwt(api, WRONG)
    assert _jwt(api, STRONG_PASSWORD).status_code == 200


def test_unknown_usernames_and_bad_bodies(api):
    assert_error(
        api.post("/api/v3/auth/login", {"username": ["x"], "password": 1}, format="json"), 400
    )
    assert_error(api.post("/api/v3/auth/login", {}, format="json"), 400, "validation_error")
    assert_error(
        api.post("/api/v3/auth/login", {"username": "ghost", "password": "x"}, format="json"),
        401,
        "invalid_credentials",
    )
