from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Membership, Role, User
from config.testing import assert_error
from conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db


def register(api, **data):
    payload = {"username": "newbie", "password": STRONG_PASSWORD, "email": "n@example.com"}
    return api.post("/api/v3/auth/register", {**payload, **data}, format="json")


def test_register_creates_user_with_personal_workspace_owned(api):
    response = register(api)
    assert response.status_code == 201
    body = response.json()
    assert body["username"] == "newbie" and body["access"] and body["refresh"]
    user = User.objects.get(username="newbie")
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER and membership.workspace.is_personal
    assert user.check_password(STRONG_PASSWORD)


def test_weak_password_is_reported_field_by_field(api):
    error = assert_error(register(api, password="password"), 400, "validation_error")
    problems = error["details"]["password"]
    assert len(problems) >= 3  # too short, too common, too few kinds of characters
    assert any("too short" in p for p in problems)
    assert any("too common" in p for p in problems)
    assert not User.objects.filter(username="newbie").exists()


def test_password_similar_to_username_is_refused(api):
    error = assert_error(
        register(api, username="Bartholomew", password="Bartholomew1!"), 400, "validation_error"
    )
    assert any("similar" in p for p in error["details"]["password"])


def test_duplicate_username_and_missing_fields(api, user):
    error = assert_error(register(api, username="ALICE"), 400, "validation_error")
    assert "username" in error["details"]
    error = assert_error(api.post("/api/v3/auth/register", {}, format="json"), 400)
    assert set(error["details"]) >= {"username", "password"}


def test_login_refresh_me_logout_cycle(api, user):
    response = api.post(
        "/api/v3/auth/login", {"username": "alice", "password": STRONG_PASSWORD}, format="json"
    )
    assert response.status_code == 200
    tokens = response.json()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    me = api.get("/api/v3/auth/me").json()
    assert me["username"] == "alice" and me["memberships"][0]["role"] == "owner"

    api.credentials()
    rotated = api.post("/api/v3/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh"] != tokens["refresh"]  # rotation

    assert (
        api.post("/api/v3/auth/logout", {"refresh": new["refresh"]}, format="json").status_code
        == 204
    )
    assert_error(
        api.post("/api/v3/auth/refresh", {"refresh": new["refresh"]}, format="json"),
        401,
        "token_not_valid",
    )
    # Logout ends the session's access tokens too, at once.
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {new['access']}")
    assert_error(api.get("/api/v3/auth/me"), 401, "session_revoked")


def test_brief_login_path_answers_like_login(api, user):
    credentials = {"username": "alice", "password": STRONG_PASSWORD}
    response = api.post("/api/v3/security/auth/login", credentials, format="json")
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh", "session_id"}


def test_wrong_password_is_401_in_error_shape(api, user):
    response = api.post(
        "/api/v3/auth/login", {"username": "alice", "password": "nope"}, format="json"
    )
    assert_error(response, 401)


def test_no_credentials_is_401_not_403(api):
    error = assert_error(api.get("/api/v3/auth/me"), 401, "not_authenticated")
    assert error["message"]
    assert api.get("/api/v3/workspaces/").status_code == 401


def test_tampered_and_expired_jwt_are_401(api, user):
    token = AccessToken.for_user(user)
    tampered = str(token)[:-3] + ("abc" if not str(token).endswith("abc") else "xyz")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tampered}")
    assert_error(api.get("/api/v3/auth/me"), 401, "token_not_valid")

    expired = AccessToken.for_user(user)
    expired.set_exp(lifetime=-timedelta(seconds=1))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {expired}")
    assert_error(api.get("/api/v3/auth/me"), 401, "token_not_valid")


def test_logout_with_garbage_token_is_401(api):
    assert_error(api.post("/api/v3/auth/logout", {"refresh": "garbage"}, format="json"), 401)


def test_login_is_rate_limited_with_retry_after(api, user, settings):
    settings.LOGIN_RATE = "3/m"
    api.defaults["REMOTE_ADDR"] = "203.0.113.77"  # its own counter in the shared cache
    for _ in range(3):
        api.post("/api/v3/auth/login", {"username": "alice", "password": "x"}, format="json")
    response = api.post("/api/v3/auth/login", {"username": "alice", "password": "x"}, format="json")
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0
