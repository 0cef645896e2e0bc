"""Fuzzing: schemathesis over every operation of /openapi.json, as a real authenticated user,
against real objects (config/tests/world.py), in-process (WSGI).

Checks: no 5xx (`not_a_server_error`) and every response matches what the schema declares
for its status (`response_schema_conformance`). Zero failures, no allow-list: an endpoint
merged later is fuzzed without anyone adding it here. Examples per operation: FUZZ_EXAMPLES
(default 8; derandomized so CI is repeatable, FUZZ_SEED varies it).

Path parameters are mostly real: each `{param}` is read from the collection above it (the
first object the fuzzer's user can list) or from the world's objects by name; every fourth
case keeps the generated value, so unknown ids are fuzzed too. Operations that may end the
fuzzer's own credentials (logout, passwords, sessions, MFA, keys, the account) get a fresh
login per case, and the shared token is renewed after them.
"""

import os
import re
from itertools import count

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from config.tests.world import PASSWORD, build_world
from config.wsgi import application

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
SEED = os.environ.get("FUZZ_SEED")
CREDENTIAL_ENDING = re.compile(r"logout|password|session|mfa|api-keys|/auth/me|/users?/")
CHECKS = [not_a_server_error, response_schema_conformance]


class Fuzzer:
    """The fuzzer's user: its tokens, and real values for path parameters."""

    def __init__(self, world):
        self.world = world
        self.username = world.owner.username
        self.token = self.login()
        self.cases = count()
        self.resolved: dict[str, dict] = {}
        ids = world.ids[world.shared.pk]
        self.by_name = {
            "workspace_pk": world.shared.pk,
            "workflow_pk": ids["workflow"],
            "run_pk": ids["run"],
        }

    def login(self) -> str | None:
        from django.test import Client

        response = Client().post(
            "/api/v3/auth/login",
            {"username": self.username, "password": PASSWORD},
            content_type="application/json",
        )
        return response.json().get("access") if response.status_code == 200 else None

    def headers(self, token: str | None) -> dict:
        return {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str):
        from django.test import Client

        response = Client().get(path, headers=self.headers(self.token))
        return response.json() if response.status_code == 200 else None

    def real_parameters(self, template: str) -> dict:
        if template in self.resolved:
            return self.resolved[template]
        values, prefix = {}, ""
        for segment in template.strip("/").split("/"):
            match = re.fullmatch(r"\{(\w+)\}", segment)
            if not match:
                prefix += "/" + segment
                continue
            name = match.group(1)
            value = self._first_listed(prefix, name)
            if value is None:
                value = self.by_name.get(name)
            if value is None:
                break
            values[name] = value
            prefix += f"/{value}"
        self.resolved[template] = values
        return values

    def _first_listed(self, prefix: str, name: str):
        for path in (prefix + "/", prefix):
            body = self.get(path)
            if body is None:
                continue
            rows = body.get("results") if isinstance(body, dict) else body
            if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
                return None
            first = rows[0]
            return first.get(name, first.get("id", first.get("key")))
        return None

    def prepare(self, case) -> dict:
        number = next(self.cases)
        if number % 4:
            case.path_parameters = {
                **(case.path_parameters or {}),
                **self.real_parameters(case.operation.path),
            }
        if CREDENTIAL_ENDING.search(case.operation.path):
            return self.headers(self.login())
        return self.headers(self.token)

    def after(self, case, response) -> None:
        if CREDENTIAL_ENDING.search(case.operation.path):
            self.token = self.login() or self.token
        if case.method.upper() == "DELETE" and response.status_code < 300:
            self.resolved.clear()  # a real object is gone: look the ids up again


@pytest.fixture
def fuzzer(transactional_db):
    # What Django's test client does: a request must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield Fuzzer(build_world("fz"))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.integration
def test_api_never_fails_and_matches_its_schema(fuzzer):
    api = schemathesis.openapi.from_wsgi("/openapi.json", application)
    failures, operations = [], 0
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=SEED is None,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: report, do not minimize
        )
        def fuzz(case):
            headers = fuzzer.prepare(case)
            response = case.call(headers=headers)
            fuzzer.after(case, response)
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (AssertionError, BaseExceptionGroup) as exc:
                body = response.text[:800] if hasattr(response, "text") else ""
                exc.add_note(f"{case.as_curl_command()}\n-> {response.status_code} {body}")
                raise

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as exc:  # every operation fuzzed, all reported
            failures.append(f"{operation.method.upper()} {operation.path}: {_describe(exc)}")
    assert operations > 50
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)


def _describe(exc: BaseException) -> str:
    parts = [str(exc)]
    for inner in getattr(exc, "exceptions", ()):
        parts.append(str(inner))
    parts += getattr(exc, "__notes__", [])
    return "\n".join(parts)[:4000]
