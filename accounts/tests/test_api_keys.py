from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from accounts.models import ApiKey, Role
from config.testing import assert_error

pytestmark = pytest.mark.django_db

URL = "/api/v3/security/api-keys/"


def create_key(client, workspace, **extra):
    payload = {"name": "ci", "workspace": workspace.id, "scopes": ["read"], **extra}
    return client.post(URL, payload, format="json")


def test_create_shows_secret_once_and_stores_only_a_hash(alice_api, workspace):
    response = create_key(alice_api, workspace, scopes=["read", "write"])
    assert response.status_code == 201, response.content
    body = response.json()
    secret = body["key"]
    assert body["id"] and secret.startswith(body["id"] + ".")
    stored = ApiKey.objects.get(prefix=body["id"])
    assert secret not in stored.hashed_key and secret not in stored.id
    listed = alice_api.get(URL).json()
    assert listed["count"] == 1
    assert "key" not in listed["results"][0]
    assert "key" not in alice_api.get(f"{URL}{body['id']}/").json()


def test_key_authenticates_and_records_last_use(api, alice_api, workspace):
    secret = create_key(alice_api, workspace).json()["key"]
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    me = api.get("/api/v3/auth/me")
    assert me.status_code == 200 and me.json()["username"] == "alice"
    key = ApiKey.objects.get()
    assert key.last_used_at is not None and key.last_used_ip == "127.0.0.1"


def test_read_key_cannot_write(api, alice_api, workspace):
    secret = create_key(alice_api, workspace).json()["key"]
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    response = api.patch(f"/api/v3/workspaces/{workspace.id}/", {"name": "x"}, format="json")
    assert_error(response, 403, "insufficient_scope")


def test_key_sees_only_its_workspace(api, alice_api, user, workspace):
    second = alice_api.post("/api/v3/workspaces/", {"name": "Second"}).json()
    secret = create_key(alice_api, workspace).json()["key"]
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    ids = [w["id"] for w in api.get("/api/v3/workspaces/").json()["results"]]
    assert ids == [workspace.id]
    assert_error(api.get(f"/api/v3/workspaces/{second['id']}/"), 404)


def test_revocation_is_immediate(api, alice_api, workspace):
    created = create_key(alice_api, workspace).json()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {created['key']}")
    assert api.get("/api/v3/auth/me").status_code == 200
    assert alice_api.delete(f"{URL}{created['id']}/").status_code == 204
    assert_error(api.get("/api/v3/auth/me"), 401, "invalid_api_key")
    assert ApiKey.objects.get(prefix=created["id"]).revoked


def test_expired_unknown_and_malformed_keys_are_401(api, alice_api, workspace):
    soon = timezone.now() + timedelta(hours=1)
    secret = create_key(alice_api, workspace, expires_at=soon.isoformat()).json()["key"]
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    with freeze_time(soon + timedelta(seconds=1)):
        assert_error(api.get("/api/v3/auth/me"), 401, "expired_api_key")
    api.credentials(HTTP_AUTHORIZATION="Api-Key abcdefgh.notthesecret")
    assert_error(api.get("/api/v3/auth/me"), 401, "invalid_api_key")
    api.credentials(HTTP_AUTHORIZATION="Api-Key")
    assert_error(api.get("/api/v3/auth/me"), 401, "invalid_api_key")


def test_bad_create_inputs(alice_api, workspace, other_workspace):
    past = (timezone.now() - timedelta(days=1)).isoformat()
    assert_error(create_key(alice_api, workspace, expires_at=past), 400, "validation_error")
    assert_error(create_key(alice_api, workspace, scopes=["admin"]), 400, "validation_error")
    assert_error(create_key(alice_api, workspace, scopes=[]), 400, "validation_error")
    error = assert_error(create_key(alice_api, other_workspace), 400, "validation_error")
    assert "workspace" in error["details"]


def test_only_admins_create_keys(client_for, workspace, other_user, add_member):
    add_member(workspace, other_user, Role.EDITOR)
    assert_error(create_key(client_for(other_user), workspace), 403, "insufficient_role")


def test_other_workspaces_keys_are_404(alice_api, client_for, other_user, other_workspace):
    created = create_key(client_for(other_user), other_workspace).json()
    assert_error(alice_api.get(f"{URL}{created['id']}/"), 404)
    assert_error(alice_api.delete(f"{URL}{created['id']}/"), 404)
    assert not ApiKey.objects.get(prefix=created["id"]).revoked
