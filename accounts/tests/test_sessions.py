"""Login sessions: one per login, listed and revoked by their owner; revocation, logout and
refresh-token reuse end the session's access tokens at once; the row is the truth."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts import sessions
from accounts.models import LoginSession
from config.testing import assert_error

pytestmark = pytest.mark.django_db


def test_every_login_is_a_session_listed_for_its_owner_only(login, bearer, user, other_user):
    first = login(HTTP_USER_AGENT="phone/1.0").json()
    second = login(REMOTE_ADDR="198.51.100.7").json()
    login("mallory")

    listed = bearer(second["access"]).get("/api/v3/security/sessions/").json()
    rows = {row["id"]: row for row in listed["results"]}
    assert set(rows) == {first["session_id"], second["session_id"]}
    assert rows[first["session_id"]]["user_agent"] == "phone/1.0"
    assert rows[second["session_id"]]["ip"] == "198.51.100.7"
    assert rows[second["session_id"]]["current"] is True
    assert rows[first["session_id"]]["current"] is False


def test_revoking_a_session_ends_its_access_token_at_once(login, bearer, user):
    mine = login().json()
    other = login().json()
    device = bearer(other["access"])
    assert device.get("/api/v3/auth/me").status_code == 200  # cached as active

    response = bearer(mine["access"]).delete(f"/api/v3/security/sessions/{other['session_id']}/")

    assert response.status_code == 204
    assert_error(device.get("/api/v3/auth/me"), 401, "session_revoked")
    assert_error(
        device.post("/api/v3/auth/refresh", {"refresh": other["refresh"]}, format="json"), 401
    )
    assert bearer(mine["access"]).get("/api/v3/auth/me").status_code == 200
    row = LoginSession.objects.get(pk=other["session_id"])
    assert row.revoked_at is not None and row.revoked_reason == "revoked"


def test_revocation_survives_an_empty_cache(login, bearer, user):
    tokens = login().json()
    LoginSession.objects.filter(pk=tokens["session_id"]).update(revoked_at=timezone.now())
    cache.delete(sessions._state_key(tokens["session_id"]))  # Redis restarted empty
    cache.delete(sessions._seen_key(tokens["session_id"]))
    assert_error(bearer(tokens["access"]).get("/api/v3/auth/me"), 401, "session_revoked")


def test_someone_elses_session_is_404(login, bearer, user, other_user):
    mine = login().json()
    theirs = login("mallory").json()
    response = bearer(mine["access"]).delete(f"/api/v3/security/sessions/{theirs['session_id']}/")
    assert_error(response, 404)
    assert bearer(theirs["access"]).get("/api/v3/auth/me").status_code == 200
    assert_error(bearer(mine["access"]).delete("/api/v3/security/sessions/not-a-uuid/"), 404)


def test_revoke_all_keeps_the_current_one(login, bearer, user):
    current = login().json()
    others = [login().json() for _ in range(2)]
    response = bearer(current["access"]).post("/api/v3/security/sessions/revoke-all")
    assert response.json() == {"revoked": 2}
    for other in others:
        assert_error(bearer(other["access"]).get("/api/v3/auth/me"), 401, "session_revoked")
    assert bearer(current["access"]).get("/api/v3/auth/me").status_code == 200


def test_logout_with_only_the_access_token(login, bearer, user):
    tokens = login().json()
    client = bearer(tokens["access"])
    assert client.post("/api/v3/auth/logout", {}, format="json").status_code == 204
    assert_error(client.get("/api/v3/auth/me"), 401, "session_revoked")
    assert_error(
        client.post("/api/v3/auth/refresh", {"refresh": tokens["refresh"]}, format="json"), 401
    )


def test_reused_refresh_token_revokes_the_whole_session(api, login, bearer, user):
    tokens = login().json()
    rotated = api.post("/api/v3/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert rotated.status_code == 200
    # The old refresh token again: stolen. Its session ends, the rotated pair with it.
    reuse = api.post("/api/v3/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert_error(reuse, 401, "token_not_valid")
    assert_error(bearer(rotated.json()["access"]).get("/api/v3/auth/me"), 401, "session_revoked")
    again = api.post("/api/v3/auth/refresh", {"refresh": rotated.json()["refresh"]}, format="json")
    assert_error(again, 401)
    assert LoginSession.objects.get(pk=tokens["session_id"]).revoked_reason == "token_reuse"


def test_last_seen_is_written_at_most_once_a_minute(login, bearer, user):
    tokens = login().json()
    client = bearer(tokens["access"])
    past = timezone.now() - timedelta(minutes=5)
    LoginSession.objects.filter(pk=tokens["session_id"]).update(last_seen_at=past)
    cache.delete(sessions._seen_key(tokens["session_id"]))
    client.get("/api/v3/auth/me")
    seen = LoginSession.objects.get(pk=tokens["session_id"]).last_seen_at
    assert seen > past
    LoginSession.objects.filter(pk=tokens["session_id"]).update(last_seen_at=past)
    client.get("/api/v3/auth/me")  # within the minute: no write
    assert LoginSession.objects.get(pk=tokens["session_id"]).last_seen_at == past


def test_a_token_without_a_session_is_refused(api, user):
    from rest_framework_simplejwt.tokens import AccessToken

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    assert_error(api.get("/api/v3/auth/me"), 401, "session_revoked")


def test_browser_login_is_a_session_and_revoking_it_logs_the_browser_out(client, user, login):
    from conftest import STRONG_PASSWORD

    response = client.post(
        "/api-auth/login/", {"username": "alice", "password": STRONG_PASSWORD, "next": "/api/v3/"}
    )
    assert response.status_code == 302
    assert client.get("/api/v3/auth/me").status_code == 200
    session = LoginSession.objects.get(user=user, kind=LoginSession.Kind.BROWSER)
    sessions.revoke(session=session)
    sessions._after_revoke(session)  # what the commit runs: the Django session is deleted
    assert client.get("/api/v3/auth/me").status_code in (401, 403)


def test_a_token_request_reads_its_user_from_redis_until_the_row_changes(login, bearer, user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts import user_cache

    client = bearer(login().json()["access"])
    client.get("/api/v3/auth/me")  # the first request reads the row and caches it
    entry = cache.get(user_cache.key(user.pk))
    assert entry["username"] == "alice" and "password" not in entry  # no hash in Redis
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v3/auth/me").json()["username"] == "alice"
    read = " ".join(query["sql"] for query in queries.captured_queries)
    assert 'FROM "accounts_user"' not in read and "accounts_loginsession" not in read
    user.display_name = "Alice A."
    user.save()  # a save drops the entry: the next request sees the new row
    assert cache.get(user_cache.key(user.pk)) is None
    assert client.get("/api/v3/auth/me").json()["display_name"] == "Alice A."
    user.is_active = False
    user.save()
    client.get("/api/v3/auth/me")
    assert_error(client.get("/api/v3/auth/me"), 401)


def test_a_cached_user_still_checks_a_password_against_its_row(login, bearer, user):
    from accounts import user_cache
    from conftest import STRONG_PASSWORD

    client = bearer(login().json()["access"])
    client.get("/api/v3/auth/me")
    cached = user_cache.from_entry(cache.get(user_cache.key(user.pk)))
    assert cached.pk == user.pk and cached.check_password(STRONG_PASSWORD)  # deferred, loaded
