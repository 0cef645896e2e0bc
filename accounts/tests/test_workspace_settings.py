"""Per-workspace settings: read by members, changed by admins, checked by the apps that own
each field, and taken by new workflows."""

import pytest

from accounts.models import Role, WorkspaceSettings
from config.testing import assert_error
from workflows.tests.factories import NOTES

pytestmark = pytest.mark.django_db


def url(workspace) -> str:
    return f"/api/v3/workspaces/{workspace.id}/settings"


def test_defaults_are_created_on_first_read(alice_api, workspace):
    body = alice_api.get(url(workspace)).json()
    assert body["workspace"] == workspace.id
    assert body["default_model"] == "" and body["default_parameters"] == {}
    assert body["embedding_model"] == ""
    assert WorkspaceSettings.objects.filter(workspace=workspace).count() == 1


def test_admin_changes_settings_and_new_workflows_take_them(alice_api, workspace):
    changed = alice_api.patch(
        url(workspace),
        {"default_model": "offline/echo", "default_parameters": {"temperature": 0.2}},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["default_parameters"] == {"temperature": 0.2}
    created = alice_api.post("/api/v3/workflows/", NOTES, format="json").json()
    assert created["default_model"] == "offline/echo"
    assert created["default_parameters"] == {"temperature": 0.2}
    # A workflow that names its own keeps them.
    own = {**NOTES, "default_model": "offline/other", "default_parameters": {"max_tokens": 50}}
    created = alice_api.post("/api/v3/workflows/", own, format="json").json()
    assert created["default_model"] == "offline/other"
    assert created["default_parameters"] == {"max_tokens": 50}


def test_bad_parameters_are_a_400_naming_the_field(alice_api, workspace):
    response = alice_api.patch(
        url(workspace), {"default_parameters": {"temperature": 9}}, format="json"
    )
    assert_error(response, 400, "validation_error")
    assert "default_parameters" in response.json()["error"]["details"]
    response = alice_api.patch(url(workspace), {"default_parameters": [1]}, format="json")
    assert_error(response, 400, "validation_error")


def test_editors_read_but_do_not_change(client_for, other_user, workspace, add_member):
    add_member(workspace, other_user, Role.EDITOR)
    editor = client_for(other_user)
    assert editor.get(url(workspace)).status_code == 200
    response = editor.patch(url(workspace), {"default_model": "x"}, format="json")
    assert_error(response, 403, "insufficient_role")


def test_other_workspace_is_404(alice_api, other_workspace):
    assert_error(alice_api.get(url(other_workspace)), 404, "not_found")
    assert_error(alice_api.patch(url(other_workspace), {}, format="json"), 404, "not_found")
