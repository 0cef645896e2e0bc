"""/api/v3/advanced/cache/*: statistics from the backend, clearing per namespace with the
right permissions, and a workspace's own AI reply TTL."""

import uuid

import pytest

from accounts.models import Role
from ai import cache as ai_cache

pytestmark = pytest.mark.django_db
STATS, CLEAR, SETTINGS = (
    "/api/v3/advanced/cache/stats",
    "/api/v3/advanced/cache/clear",
    "/api/v3/advanced/cache/settings",
)


@pytest.fixture(autouse=True)
def own_namespace(settings):
    """Ids repeat between tests (rolled back): each test gets its own AI key prefix."""
    settings.AI_CACHE_PREFIX = f"ai-test-{uuid.uuid4().hex[:8]}"


def remember(workspace, prompt: str) -> str:
    key = ai_cache.key_for(workspace.pk, "local/tiny", [{"role": "user", "content": prompt}],
                           None, None, None)  # fmt: skip
    ai_cache.put(key, {"content": prompt})
    return key


def my_namespace(body, workspace):
    [found] = [n for n in body["namespaces"] if n["workspace"] == workspace.pk]
    return found


def test_stats_count_hits_misses_keys_and_memory(alice_api, workspace):
    first = remember(workspace, "one")
    remember(workspace, "two")
    assert ai_cache.get(first) == {"content": "one"}  # a hit
    assert ai_cache.get(first[:-8] + "00000000") is None  # a miss: another request's key
    response = alice_api.get(STATS, {"workspace": workspace.pk})
    assert response.status_code == 200
    ns = my_namespace(response.json(), workspace)
    assert (ns["namespace"], ns["backend"]) == ("ai_replies", "RedisCache")
    assert (ns["keys"], ns["hits"], ns["misses"], ns["hit_rate"]) == (2, 1, 1, 0.5)
    assert ns["memory_bytes"] > 0
    assert ns["ttl_seconds"] == 300  # the test settings' AI_CACHE_TTL
    assert "servers" not in response.json()  # Redis-wide figures are for staff


def test_an_admin_clears_her_workspace_and_nobody_elses(
    alice_api, client_for, workspace, other_workspace, other_user, add_member
):
    key = remember(workspace, "one")
    other_key = remember(other_workspace, "theirs")
    response = alice_api.post(CLEAR, {"namespace": "ai_replies", "workspace": workspace.pk})
    assert response.status_code == 200, response.content
    assert response.json()["deleted_keys"] == 1
    assert ai_cache.get(key) is None
    assert ai_cache.get(other_key) == {"content": "theirs"}
    ns = my_namespace(alice_api.get(STATS).json(), workspace)
    assert ns["keys"] == 0

    theirs = alice_api.post(CLEAR, {"namespace": "ai_replies", "workspace": other_workspace.pk})
    assert theirs.status_code == 404
    add_member(workspace, other_user, Role.EDITOR)
    not_admin = client_for(other_user).post(
        CLEAR, {"namespace": "ai_replies", "workspace": workspace.pk}
    )
    assert not_admin.status_code == 403
    assert not_admin.json()["error"]["code"] == "cache_namespace_forbidden"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"namespace": "everything"}, 400, "unknown_cache_namespace"),
        ({"namespace": "ai_replies"}, 400, "invalid_query"),
        ({"namespace": "rate_limits"}, 403, "cache_namespace_forbidden"),
        ({"namespace": "ai_replies", "workspace": "x"}, 400, "validation_error"),
        ({}, 400, "validation_error"),
    ],
)
def test_bad_clears_are_4xx(alice_api, body, status, code):
    response = alice_api.post(CLEAR, body)
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code


def test_staff_see_servers_and_clear_anything(client_for, make_user, workspace):
    key = remember(workspace, "one")
    staff = make_user("root")
    staff.is_staff = True
    staff.save()
    api = client_for(staff)
    body = api.get(STATS).json()
    assert body["servers"]["ai"]["used_memory_bytes"] > 0
    assert {n["namespace"] for n in body["namespaces"]} >= {"ai_replies", "rate_limits"}
    assert api.post(CLEAR, {"namespace": "rate_limits"}).status_code == 200
    response = api.post(CLEAR, {"namespace": "ai_replies"})
    assert response.status_code == 200 and response.json()["deleted_keys"] >= 1
    assert ai_cache.get(key) is None


def test_a_workspace_sets_its_own_ttl(alice_api, client_for, workspace, other_user, add_member):
    response = alice_api.put(SETTINGS, {"workspace": workspace.pk, "ai_ttl_seconds": 60})
    assert response.status_code == 200 and response.json()["ttl_seconds"] == 60
    assert ai_cache.ttl_for(workspace.pk) == 60
    alice_api.put(SETTINGS, {"workspace": workspace.pk, "ai_ttl_seconds": 0})
    assert remember(workspace, "one") is None  # caching off for this workspace
    alice_api.put(SETTINGS, {"workspace": workspace.pk, "ai_ttl_seconds": None})
    assert ai_cache.ttl_for(workspace.pk) == 300
    assert (
        alice_api.put(SETTINGS, {"workspace": workspace.pk, "ai_ttl_seconds": -1}).status_code
        == 400
    )
    add_member(workspace, other_user, Role.VIEWER)
    viewer = client_for(other_user).put(SETTINGS, {"workspace": workspace.pk, "ai_ttl_seconds": 5})
    assert viewer.status_code == 403


def test_a_local_memory_backend_says_what_it_cannot_count(alice_api, workspace, settings):
    settings.CACHES = {
        **settings.CACHES,
        "ai": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"},
    }
    key = remember(workspace, "one")
    assert ai_cache.get(key) is not None
    ns = my_namespace(alice_api.get(STATS).json(), workspace)
    assert (ns["backend"], ns["keys"], ns["memory_bytes"], ns["hits"]) == (
        "LocMemCache", None, None, 1,
    )  # fmt: skip
    response = alice_api.post(CLEAR, {"namespace": "ai_replies", "workspace": workspace.pk})
    assert response.json()["deleted_keys"] is None
    # The same request now has a key of the new generation: a miss; the old entry expires.
    again = ai_cache.key_for(workspace.pk, "local/tiny", [{"role": "user", "content": "one"}],
                             None, None, None)  # fmt: skip
    assert again != key and ai_cache.get(again) is None
