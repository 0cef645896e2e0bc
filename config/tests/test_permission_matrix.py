"""The cross-workspace matrix: every operation of /openapi.json, tried by everyone who must not
reach the world's objects (config/tests/world.py), with the answer each must get exactly.

- anonymous, on every operation the schema does not mark public: 401;
- an outsider (a user of another workspace), on every operation that names an object in its
  path: 404, never a 403 that confirms the object exists;
- a viewer of the world's shared workspace and a read-only API key of it, on every write to
  one of its objects: 403 (or 404 where the object is another user's own);
- the read-only key, on every write without an object in its path: 403;
- the outsider, on every list: none of the owner's rows.

The operations come from the schema, so an endpoint merged later is in the matrix without
anyone adding it here. Path parameters are real: the world's objects, or read from the owner's
listing of the collection above them (preferring the shared workspace's rows); an operation
whose parameters name nothing in the world fails the test until the world has one.
"""

import re
from itertools import product

import pytest
from django.test import Client
from django.urls import Resolver404, resolve
from drf_spectacular.generators import SchemaGenerator

from accounts import services as accounts
from accounts.models import Role
from config.tests.world import PASSWORD, build_world

pytestmark = pytest.mark.integration
WRITES = {"post", "put", "patch", "delete"}
METHODS = WRITES | {"get"}
PARAMETER = re.compile(r"\{(\w+)\}")
# Path parameters that name a public catalogue entry rather than someone's object.
CATALOGUE = {"/api/v3/background/types/{id}/"}
PLACEHOLDERS = ("1", "a", "00000000-0000-4000-8000-000000000001", "a.zip")


def operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, items in schema["paths"].items():
        for method, operation in items.items():
            if method in METHODS:
                security = operation.get("security")
                public = security is None or {} in security
                yield method, path, public


class Caller:
    def __init__(self, authorization: str | None = None):
        self.client = Client()
        self.headers = {"Authorization": authorization} if authorization else {}

    def call(self, method: str, path: str):
        if method == "get":
            return self.client.get(path, headers=self.headers)
        send = getattr(self.client, method)
        return send(path, data={}, content_type="application/json", headers=self.headers)

    def rows(self, path: str) -> list | None:
        response = self.client.get(path, headers=self.headers)
        if response.status_code != 200 or "json" not in response.get("Content-Type", ""):
            return None
        body = response.json()
        rows = body.get("results") if isinstance(body, dict) else body
        return rows if isinstance(rows, list) else None


def login(username: str) -> Caller:
    response = Client().post(
        "/api/v3/auth/login",
        {"username": username, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return Caller(f"Bearer {response.json()['access']}")


class Paths:
    """Real values for a template's parameters, from the owner's listings."""

    def __init__(self, owner: Caller, world):
        self.owner = owner
        self.shared = world.shared.pk
        ids = world.ids[world.shared.pk]
        self.by_name = {
            "workspace_pk": world.shared.pk,
            "workflow_pk": ids["workflow"],
            "run_pk": ids["run"],
            "provider": "openai",  # a workspace's key for a provider: the workspace is the object
        }
        export_workspace, export_name = ids["export"].rstrip("/").split("/")[-2:]
        decision = {"id": ids["waiting_run"], "key": "review"}
        self.by_template = {  # what no listing names: the step waiting for a decision, a file
            "/api/v3/runs/{id}/steps/{key}/approve/": decision,
            "/api/v3/runs/{id}/steps/{key}/reject/": decision,
            "/api/v3/exports/{workspace_pk}/{name}/": {
                "workspace_pk": export_workspace,
                "name": export_name,
            },
        }
        archive = ids["workspace_export"].rstrip("/").split("/")
        self.by_template["/api/v3/workspaces/{workspace_pk}/exports/{name}/"] = {
            "workspace_pk": archive[-3],
            "name": archive[-1],
        }
        self.cache: dict[str, str | None] = {}

        self.owner_id = world.owner.pk

    def fill(self, template: str) -> str | None:
        if template not in self.cache:
            self.cache[template] = self._fill(template)
        return self.cache[template]

    def _fill(self, template: str) -> str | None:
        path, known = "", self.by_template.get(template, {})
        if template.startswith("/api/v3/users/{id}"):
            known = {"id": self.owner_id}  # the staff API's objects are users
        for segment in template.strip("/").split("/"):
            match = PARAMETER.fullmatch(segment)
            if match is None:
                path += "/" + segment
                continue
            name = match.group(1)
            value = known.get(name, self.by_name.get(name))
            if value is None:
                value = self._listed(path, name)
            if value is None:
                return None
            path += f"/{value}"
        return path + ("/" if template.endswith("/") else "")

    def _listed(self, prefix: str, name: str):
        for path in (prefix + "/", prefix):
            rows = self.owner.rows(path)
            if rows is None:
                continue
            rows = [row for row in rows if isinstance(row, dict)]
            shared = [row for row in rows if self._workspace_of(row) == self.shared]
            for row in shared + rows:
                value = row.get(name, row.get("id", row.get("key")))
                if value is not None:
                    return value
            return None
        return None

    @staticmethod
    def _workspace_of(row: dict):
        workspace = row.get("workspace", row.get("workspace_id"))
        return workspace.get("id") if isinstance(workspace, dict) else workspace


@pytest.fixture
def matrix(transactional_db):
    world = build_world("mx")
    outsider = accounts.register_user(
        username="mx-outsider", password=PASSWORD, email="mx-outsider@example.com"
    )
    owner = login(world.owner.username)
    return world, owner, Paths(owner, world), outsider


def placeholder(template: str) -> str:
    """The template with made-up values its route accepts (ids, keys, uuids, file names)."""
    names = PARAMETER.findall(template)
    for values in product(PLACEHOLDERS, repeat=len(names)):
        path = template
        for name, value in zip(names, values, strict=True):
            path = path.replace("{" + name + "}", value)
        try:
            resolve(path)
        except Resolver404:
            continue
        return path
    raise AssertionError(f"no placeholder matches the route of {template}")


def _reads_only(template: str) -> bool:
    """A POST that changes nothing (it computes an answer) says so on its view."""
    view = resolve(placeholder(template)).func
    return getattr(getattr(view, "cls", getattr(view, "view_class", None)), "reads_only", False)


def _any_member_may(template: str) -> bool:
    """A write every member may make, to their own membership (leaving), says so on its view."""
    view = resolve(placeholder(template)).func
    view_class = getattr(view, "cls", getattr(view, "view_class", None))
    return getattr(view_class, "any_member_may", False)


def _failure(who: str, method: str, path: str, response, expected) -> str:
    return f"{who} {method.upper()} {path}: {response.status_code} (expected {expected}) " + (
        response.content[:200].decode(errors="replace")
    )


def test_anonymous_gets_401_on_everything_not_public(matrix):
    _world, _owner, paths, _outsider = matrix
    anonymous, failures, checked = Caller(), [], 0
    for method, template, public in operations():
        path = paths.fill(template) or placeholder(template)
        if public:
            continue
        checked += 1
        response = anonymous.call(method, path)
        if response.status_code != 401:
            failures.append(_failure("anonymous", method, path, response, 401))
    assert checked > 100
    assert not failures, "\n".join(failures)


def test_an_outsider_gets_404_for_every_object_and_sees_no_foreign_rows(matrix):
    world, owner, paths, outsider = matrix
    caller, failures, unresolved, checked = login(outsider.username), [], [], 0
    for method, template, public in operations():
        if public or template in CATALOGUE:
            continue
        if not PARAMETER.search(template):
            if method == "get":
                failures += _foreign_rows(owner, caller, template)
            continue
        path = paths.fill(template)
        if path is None:
            unresolved.append(template)
            continue
        checked += 1
        response = caller.call(method, path)
        if response.status_code != 404:
            failures.append(_failure("outsider", method, path, response, 404))
    assert not failures, "\n".join(failures)
    assert not unresolved, f"no object in the world for: {sorted(set(unresolved))}"
    assert checked > 60


def _foreign_rows(owner: Caller, caller: Caller, path: str) -> list[str]:
    """The outsider's list shares no integer id with the owner's, whatever the list is of."""
    mine, theirs = caller.rows(path), owner.rows(path)
    if not mine or not theirs:
        return []
    ids = {row.get("id") for row in theirs if isinstance(row, dict)}
    mine_ids = (row.get("id") for row in mine if isinstance(row, dict))
    leaked = [value for value in mine_ids if isinstance(value, int) and value in ids]
    return [f"outsider GET {path}: the owner's rows {leaked}"] if leaked else []


@pytest.mark.parametrize("who", ["viewer", "read-only key"])
def test_a_viewer_and_a_read_only_key_cannot_write(matrix, who):
    world, _owner, paths, _outsider = matrix
    if who == "viewer":
        caller = login(world.members[Role.VIEWER].username)
    else:
        caller = Caller(f"Api-Key {world.api_keys['read']}")
    failures, checked = [], 0
    for method, template, public in operations():
        if public or method not in WRITES or template in CATALOGUE or _reads_only(template):
            continue
        has_object = bool(PARAMETER.search(template))
        if not has_object and who == "viewer":
            continue  # a viewer writes in their own personal workspace and to their own things
        if who == "viewer" and _any_member_may(template):
            continue  # leaving: a viewer may
        path = paths.fill(template) if has_object else template
        if path is None:
            continue  # reported by the outsider's test
        checked += 1
        response = caller.call(method, path)
        expected = {403, 404} if has_object else {403}
        if response.status_code not in expected:
            failures.append(_failure(who, method, path, response, expected))
    assert not failures, "\n".join(failures)
    assert checked > 20
