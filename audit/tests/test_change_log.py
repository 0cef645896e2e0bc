"""django-auditlog through our log model: the real actor under JWT and API keys, changed
fields, definition edits as a diff, secrets never logged, rows in the workspace's chain."""

import pytest
from rest_framework.test import APIClient

from accounts import services as accounts
from accounts.models import ApiKey
from accounts.scoping import Actor
from audit import chain
from audit.context import acting_for
from audit.models import AuditLogEntry
from conftest import STRONG_PASSWORD
from workflows.tests.factories import NOTES

pytestmark = pytest.mark.django_db

URL = "/api/v3/workflows/"


def rows_for(model: str, object_pk):
    app_label, name = model.split(".")
    return AuditLogEntry.objects.filter(
        content_type__app_label=app_label, content_type__model=name, object_pk=str(object_pk)
    ).order_by("seq")


@pytest.fixture
def jwt_api(api, user, settings):
    settings.RATELIMIT_ENABLE = False
    tokens = api.post(
        "/api/v3/auth/login", {"username": "alice", "password": STRONG_PASSWORD}, format="json"
    ).json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return client


@pytest.fixture
def key_api(user, workspace):
    _, secret = accounts.create_api_key(
        actor=Actor(user), workspace=workspace, name="ci", scopes=["read", "write"]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


@pytest.mark.parametrize("client_fixture", ["jwt_api", "key_api"])
def test_creating_and_editing_a_workflow_names_the_actor_and_the_fields(
    request, client_fixture, user, workspace
):
    client = request.getfixturevalue(client_fixture)
    created = client.post(URL, NOTES, format="json", REMOTE_ADDR="192.0.2.10")
    assert created.status_code == 201, created.content
    workflow_id = created.json()["id"]
    edited = client.patch(f"{URL}{workflow_id}/", {"name": "Standup"}, format="json")
    assert edited.status_code == 200

    create, update = rows_for("workflows.workflow", workflow_id)
    for row in (create, update):
        assert row.actor_id == user.pk, client_fixture
        assert row.workspace_id == workspace.pk
        assert row.chain == chain.workspace_chain(workspace.pk)
    assert create.action == AuditLogEntry.Action.CREATE and create.remote_addr == "192.0.2.10"
    assert update.action == AuditLogEntry.Action.UPDATE
    assert update.changes["name"] == ["Meeting notes", "Standup"]
    assert chain.verify(workspace_id=workspace.pk)[1] == []


def test_definition_edits_are_the_version_diff(jwt_api, user, workspace):
    workflow_id = jwt_api.post(URL, NOTES, format="json").json()["id"]
    added = jwt_api.post(
        f"{URL}{workflow_id}/steps/",
        {"key": "email", "kind": "generate", "prompt": "Mail: {{ steps.actions.output }}"},
        format="json",
    )
    assert added.status_code == 201, added.content
    edited = jwt_api.patch(
        f"{URL}{workflow_id}/steps/summary/", {"prompt": "Shorter: {{ inputs.notes }}"}, "json"
    )
    assert edited.status_code == 200, edited.content

    versions = AuditLogEntry.objects.filter(
        content_type__model="workflowversion", workspace_id=workspace.pk
    ).order_by("seq")
    first, second, third = versions
    assert first.changes["version"] == [None, 1]
    assert set(first.changes) >= {"definition.steps.summary", "definition.steps.actions"}
    assert second.changes["version"] == [1, 2]
    assert second.changes["definition.steps.email"][0] is None
    assert second.changes["definition.steps.email"][1]["prompt"].startswith("Mail:")
    assert third.changes == {
        "version": [2, 3],
        "definition.steps.summary.prompt": [
            "Summarise {{ inputs.notes }}",
            "Shorter: {{ inputs.notes }}",
        ],
    }
    assert all(row.actor_id == user.pk for row in versions)


def test_api_key_rows_never_log_the_hash(alice_api, user, workspace):
    created = alice_api.post(
        "/api/v3/security/api-keys/", {"name": "ci", "scopes": ["read"], "workspace": workspace.pk}
    )
    prefix = created.json()["id"]
    secret = created.json()["key"]
    row = rows_for("accounts.apikey", prefix).get()
    stored = str(row.changes) + row.object_pk + str(row.serialized_data) + row.object_repr
    key = ApiKey.objects.get(prefix=prefix)
    assert key.hashed_key not in stored and secret not in stored and key.id not in stored
    assert "hashed_key" not in row.changes and "id" not in row.changes
    assert row.changes["name"] == [None, "ci"] and row.actor_id == user.pk


def test_password_is_never_logged(user):
    user.set_password("Another-Secret-99")
    user.save()
    for row in AuditLogEntry.objects.filter(content_type__model="user"):
        assert "password" not in (row.changes or {})
        assert "Another-Secret" not in str(row.changes)


def test_acting_for_names_the_user_outside_a_request(user, workspace):
    with acting_for(user.pk):
        accounts.update_workspace(actor=Actor(user), workspace=workspace, name="Renamed")
    row = rows_for("accounts.workspace", workspace.pk).last()
    assert row.actor_id == user.pk and row.changes["name"][1] == "Renamed"
