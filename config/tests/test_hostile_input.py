"""Issue 12's reproductions: each hostile input gets its 4xx (or 503), never a 500."""

import asyncio
import json

import pytest
from django.urls import reverse

from accounts.models import Role
from config.api.body_limit import BodyLimitASGI
from config.testing import assert_error, free_port

pytestmark = pytest.mark.django_db

DEEP = 1_000


def deep_json(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


# --- 1. 500s -----------------------------------------------------------------------------------
def test_api_key_without_a_name_is_a_400(alice_api):
    response = alice_api.post("/api/v3/security/api-keys/", {}, format="json")
    error = assert_error(response, 400, "validation_error")
    assert "name" in error["details"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v3/background/tasks/?created_before=2020-01-01T00:00:00-21:33",
        "/api/v3/background/tasks/?finished_after=2020-01-01T00:00:00%2B23:59",
        "/api/v3/ai/usage/?since=2020-01-01T00:00:00-21:33&until=2030-01-01T00:00:00%2B20:00",
        "/api/v3/ai/usage/summary?since=2020-01-01T00:00:00-21:33",
    ],
)
def test_date_times_with_any_valid_offset_filter(alice_api, url):
    response = alice_api.get(url)
    assert response.status_code == 200, response.content


def test_an_offset_beyond_a_day_is_a_400(alice_api):
    response = alice_api.get("/api/v3/background/tasks/?created_before=2020-01-01T00:00:00-24:30")
    assert_error(response, 400, "validation_error")


@pytest.mark.parametrize("path", ["/api/v3/auth/login", "/api/v3/auth/refresh"])
def test_deep_json_to_unauthenticated_endpoints_is_a_400(api, path):
    response = api.post(path, deep_json(), content_type="application/json")
    error = assert_error(response, 400, "too_deep")
    assert "deeper than" in error["message"]


def test_deep_json_object_to_an_authenticated_endpoint_is_a_400(alice_api):
    nested = '{"a":' * DEEP + "1" + "}" * DEEP
    body = '{"name": "x", "definition": ' + nested + "}"
    response = alice_api.post("/api/v3/workflows/import", body, content_type="application/json")
    assert_error(response, 400, "too_deep")


def test_json_just_under_the_depth_limit_is_parsed(alice_api, settings):
    body = {"name": "k", "scopes": ["read"]}
    value = body
    for _ in range(settings.MAX_JSON_DEPTH - 2):
        value["extra"] = {}
        value = value["extra"]
    response = alice_api.post("/api/v3/security/api-keys/", body, format="json")
    assert response.status_code == 201, response.content


def test_deep_yaml_import_is_a_400(alice_api):
    yaml_text = "a: " + "[" * 10_000 + "]" * 10_000
    response = alice_api.post(
        "/api/v3/workflows/import", yaml_text, content_type="application/yaml"
    )
    assert_error(response, 400)


def test_malformed_json_is_a_400(api):
    response = api.post("/api/v3/auth/login", "{nope", content_type="application/json")
    assert_error(response, 400, "parse_error")


# --- Redis down --------------------------------------------------------------------------------
@pytest.fixture
def redis_down(settings):
    """Every Redis client of this process points at a port where nothing listens."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = {
        alias: {**config, "LOCATION": dead} for alias, config in settings.CACHES.items()
    }
    settings.REDIS_URL = dead
    return dead


def test_login_works_with_redis_down(api, user, redis_down):
    response = api.post(
        "/api/v3/auth/login",
        {"username": "alice", "password": "Correct-Horse-42-battery"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["access"]
    wrong = api.post("/api/v3/auth/login", {"username": "alice", "password": "nope"}, format="json")
    assert_error(wrong, 401)


def test_register_works_with_redis_down(api, redis_down):
    response = api.post(
        "/api/v3/auth/register",
        {"username": "newbie", "email": "n@example.com", "password": "Correct-Horse-42-battery"},
        format="json",
    )
    assert response.status_code == 201, response.content


def test_generation_works_with_redis_down(alice_api, workspace, redis_down):
    response = alice_api.post(
        "/api/v3/advanced/ai/generate",
        {"prompt": "hello", "workspace": workspace.id},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["content"]


def test_ws_stats_with_redis_down_is_a_503_with_retry_after(alice_api, redis_down):
    response = alice_api.get("/api/v3/ws/stats")
    error = assert_error(response, 503, "service_unavailable")
    assert error["details"] == {"dependency": "redis"}
    assert int(response["Retry-After"]) > 0


def test_rate_limits_still_count_when_redis_is_up(api, settings):
    settings.LOGIN_RATE = "2/m"
    body = {"username": "ghost", "password": "nope"}
    statuses = [api.post("/api/v3/auth/login", body, format="json").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


# --- 2. body limit while reading -----------------------------------------------------------------
def _call_asgi(app, messages: list[dict], headers=()):
    sent, consumed = [], []

    async def receive():
        if not messages:  # the client waits for its answer
            await asyncio.Event().wait()
        message = messages.pop(0)
        consumed.append(message)
        return message

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v3/auth/login",
        "raw_path": b"/api/v3/auth/login",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))
    return sent, consumed


def test_a_chunked_body_over_the_limit_is_refused_while_reading(settings):
    settings.MAX_REQUEST_BODY_BYTES = 1024
    reached_app = []

    async def app(scope, receive, send):
        reached_app.append(scope)

    chunk = b"x" * 400
    messages = [{"type": "http.request", "body": chunk, "more_body": True} for _ in range(100)]
    sent, consumed = _call_asgi(BodyLimitASGI(app), messages)
    assert sent[0]["status"] == 413
    body = json.loads(sent[1]["body"])
    assert body["error"]["code"] == "request_too_large"
    assert len(consumed) == 3  # stopped at the first chunk over 1,024 bytes, not 100 chunks
    assert reached_app == []


def test_a_declared_length_over_the_limit_is_refused_before_reading(settings):
    settings.MAX_REQUEST_BODY_BYTES = 1024

    async def app(scope, receive, send):
        raise AssertionError("the app must not be called")

    sent, consumed = _call_asgi(BodyLimitASGI(app), [], headers=[(b"content-length", b"5000")])
    assert sent[0]["status"] == 413 and consumed == []


@pytest.mark.django_db(transaction=True)  # the ASGI handler's thread must see the user
def test_a_chunked_body_under_the_limit_reaches_the_api(user, settings):
    """Through the project's real ASGI application: Django sees the whole body."""
    from config.asgi import application

    settings.MAX_REQUEST_BODY_BYTES = 1024
    payload = json.dumps({"username": "alice", "password": "Correct-Horse-42-battery"}).encode()
    halves = [payload[:20], payload[20:]]
    messages = [
        {"type": "http.request", "body": halves[0], "more_body": True},
        {"type": "http.request", "body": halves[1], "more_body": False},
    ]
    sent, _ = _call_asgi(application, messages)
    assert sent[0]["status"] == 200, sent


# --- 7. schema truthfulness and roles ------------------------------------------------------------
def test_registration_requires_an_email(api):
    for email in (None, ""):
        body = {"username": "noemail", "password": "Correct-Horse-42-battery"}
        if email is not None:
            body["email"] = email
        response = api.post("/api/v3/auth/register", body, format="json")
        error = assert_error(response, 400, "validation_error")
        assert "email" in error["details"]


def _read_only_key(alice_api, workspace) -> str:
    created = alice_api.post(
        "/api/v3/security/api-keys/",
        {"name": "ro", "workspace": workspace.id, "scopes": ["read"]},
        format="json",
    )
    return created.json()["key"]


def test_viewers_and_read_only_keys_may_analyze(
    api, alice_api, client_for, make_user, workspace, add_member
):
    viewer = make_user("vic")
    add_member(workspace, viewer, Role.VIEWER)
    body = {"text": "A fine and happy text about documents.", "workspace": workspace.id}
    by_viewer = client_for(viewer).post("/api/v3/advanced/ai/analyze", body, format="json")
    assert by_viewer.status_code == 200, by_viewer.content
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {_read_only_key(alice_api, workspace)}")
    by_key = api.post("/api/v3/advanced/ai/analyze", body, format="json")
    assert by_key.status_code == 200, by_key.content
    # With a model, analysis spends: still not for a read-only key.
    spending = api.post("/api/v3/advanced/ai/analyze", {**body, "use_model": True}, format="json")
    assert_error(spending, 403, "insufficient_scope")


def test_a_read_only_key_still_cannot_write(api, alice_api, workspace):
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {_read_only_key(alice_api, workspace)}")
    response = api.post("/api/v3/advanced/ai/generate", {"prompt": "x"}, format="json")
    assert_error(response, 403, "insufficient_scope")


@pytest.fixture
def schema(api):
    return api.get(reverse("schema")).json()


def test_every_operation_declares_its_errors_in_the_error_shape(schema):
    operations = [
        (path, method, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) > 50
    for path, method, op in operations:
        for code in ("400", "401", "404", "429", "503"):
            assert code in op["responses"], (path, method, code)
        if method != "get":
            assert "413" in op["responses"], (path, method)
    login_400 = schema["paths"]["/api/v3/auth/login"]["post"]["responses"]["400"]
    ref = login_400["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/Error")
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]


def test_budget_updated_at_is_nullable_in_the_schema(schema, alice_api, workspace):
    body = alice_api.get(f"/api/v3/workspaces/{workspace.id}/budget").json()
    assert body["updated_at"] is None
    assert schema["components"]["schemas"]["Budget"]["properties"]["updated_at"]["nullable"]


def test_generate_declares_its_event_stream(schema):
    content = schema["paths"]["/api/v3/advanced/ai/generate"]["post"]["responses"]["200"]["content"]
    assert set(content) >= {"application/json", "text/event-stream"}


def _list_urls() -> list[str]:
    """Every list of the API with no path parameter (`*-list` routes)."""
    from django.urls import get_resolver
    from django.urls.resolvers import URLPattern, URLResolver

    found = []

    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern).lstrip("^").rstrip("$")  # router: regexes
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif (
                isinstance(pattern, URLPattern)
                and (pattern.name or "").endswith("-list")
                and "<" not in route  # no path parameter: `<id>` or `(?P<id>...)`
            ):
                found.append("/" + route)

    walk(get_resolver().url_patterns)
    return sorted(set(found))


@pytest.mark.parametrize("page", ["99999999999999999999", "9223372036854775807", "-1", "x"])
def test_no_list_answers_a_page_number_with_a_500(alice_api, page):
    """A page past any table (an OFFSET beyond a bigint) is a 404, not a database error."""
    urls = _list_urls()
    assert "/api/v3/workflows/" in urls and len(urls) > 10
    for url in urls:
        response = alice_api.get(f"{url}?page={page}")
        assert response.status_code < 500, (url, response.content[:200])


FOREIGN_KEY_PARAMS = ["workspace", "workflow", "run", "rule", "notification", "user"]


def test_no_list_filter_tells_whether_an_id_exists(alice_api, other_workspace):
    """A filter by another workspace's id and by an id that exists nowhere answer alike: 200
    with no rows. django-filter's default checked the id against the whole table (400 for a
    missing one, 200 for another workspace's), which told an outsider which ids exist. A
    value of the wrong type (an integer for a UUID key, or the reverse) is a 400 whatever
    exists."""
    missing = [10**12, "0c5b2d4e-1f0a-4b8e-9a51-6e2f7d3c8b90"]  # an integer and a UUID key
    for url in _list_urls():
        unfiltered = alice_api.get(url).status_code  # a staff-only list is a 404 for alice
        for param in FOREIGN_KEY_PARAMS:
            responses = [alice_api.get(url, {param: value}) for value in missing]
            statuses = [response.status_code for response in responses]
            assert unfiltered in statuses, (url, param, responses[0].content[:200])
            for response in responses:
                if response.status_code != unfiltered:
                    error = assert_error(response, 400, "validation_error")
                    assert error["details"][param][0].startswith("Enter a"), (url, param)
    for url in ["/api/v3/workflows/", "/api/v3/documents/", "/api/v3/background/tasks/"]:
        for value in (other_workspace.pk, missing[0]):
            response = alice_api.get(f"{url}?workspace={value}")
            assert response.status_code == 200 and response.json()["results"] == [], url
