"""The API's error conventions, seen from outside."""

import pytest

from config.testing import assert_error

pytestmark = pytest.mark.django_db


def test_malformed_json_is_400_parse_error(alice_api):
    response = alice_api.post(
        "/api/v3/workspaces/", data='{"name": ', content_type="application/json"
    )
    error = assert_error(response, 400, "parse_error")
    assert "JSON" in error["message"]


def test_wrong_type_is_400_with_the_field(alice_api, workspace):
    response = alice_api.post(
        "/api/v3/security/api-keys/",
        {"name": "x", "workspace": workspace.id, "scopes": "read"},
        format="json",
    )
    error = assert_error(response, 400, "validation_error")
    assert "scopes" in error["details"]


def test_body_over_the_limit_is_413(alice_api, settings):
    settings.MAX_REQUEST_BODY_BYTES = 1024
    response = alice_api.post(
        "/api/v3/workspaces/",
        data='{"name": "' + "x" * 2000 + '"}',
        content_type="application/json",
    )
    error = assert_error(response, 413, "request_too_large")
    assert error["details"]["limit_bytes"] == 1024


def test_unknown_api_route_is_json_404(alice_api):
    error = assert_error(alice_api.get("/api/v3/no-such-thing/"), 404, "not_found")
    assert error["details"]["path"] == "/api/v3/no-such-thing/"


def test_unknown_api_route_is_json_404_with_debug_on(alice_api, settings):
    settings.DEBUG = True  # Django's HTML debug page otherwise
    error = assert_error(alice_api.get("/api/v3/no-such-thing/"), 404, "not_found")
    assert error["details"] == {"path": "/api/v3/no-such-thing/"}
    assert alice_api.get("/no-such-page/")["Content-Type"].startswith("text/html")  # not the API


def test_method_not_allowed_is_405(alice_api):
    assert_error(alice_api.delete("/api/v3/auth/login"), 405, "method_not_allowed")


def test_unsupported_media_type_is_415(alice_api):
    response = alice_api.post("/api/v3/workspaces/", data="name=x", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_bad_page_is_404(alice_api):
    assert_error(alice_api.get("/api/v3/workspaces/?page=99"), 404, "not_found")


def test_every_response_carries_a_request_id(api):
    response = api.get("/health", HTTP_X_REQUEST_ID="abc123")
    assert response["X-Request-ID"] == "abc123"
    assert len(api.get("/health")["X-Request-ID"]) == 32


def test_api_root_is_browsable_without_credentials(api):
    response = api.get("/api/v3/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert "/api-auth/login/" in response.content.decode()
