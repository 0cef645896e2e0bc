"""A workspace's own provider keys: encrypted at rest, never read back, preferred by the
gateway (proved against the local OpenAI-compatible server playing api.openai.com)."""

import pytest
from django.db import connection

from accounts.models import Role
from ai import services
from ai.models import WorkspaceProviderKey
from config import crypto

pytestmark = pytest.mark.django_db

WORKSPACE_KEY = "sk-workspace-secret-0123456789-ABCD"


def _url(workspace, provider=None):
    base = f"/api/v3/workspaces/{workspace.pk}/ai-keys"
    return f"{base}/{provider}" if provider else base


def _raw_column(row_id) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM ai_workspaceproviderkey WHERE id = %s", [row_id])
        return cursor.fetchone()[0]


def test_saved_key_is_never_returned_and_unreadable_in_the_database(alice_api, workspace):
    response = alice_api.put(_url(workspace, "openai"), {"api_key": WORKSPACE_KEY})

    assert response.status_code == 200, response.content
    assert response.json()["configured"] is True
    assert response.json()["last4"] == "ABCD"
    assert WORKSPACE_KEY not in response.content.decode()
    listed = alice_api.get(_url(workspace)).json()["providers"]
    assert {row["provider"]: row["configured"] for row in listed} == {
        "openai": True,
        "anthropic": False,
        "gemini": False,
    }
    assert WORKSPACE_KEY not in str(listed)
    row = WorkspaceProviderKey.objects.get(workspace=workspace, provider="openai")
    raw = _raw_column(row.pk)
    assert WORKSPACE_KEY not in raw and "ABCD" not in raw
    assert crypto.decrypt(raw) == WORKSPACE_KEY
    assert row.api_key == WORKSPACE_KEY  # the model reads it back in plain text


def test_remove_key(alice_api, workspace):
    alice_api.put(_url(workspace, "anthropic"), {"api_key": WORKSPACE_KEY})
    assert alice_api.delete(_url(workspace, "anthropic")).status_code == 204
    assert alice_api.get(_url(workspace, "anthropic")).json()["configured"] is False


def test_viewers_read_status_only_admins_write_others_see_nothing(
    client_for, make_user, workspace, add_member, alice_api
):
    viewer = make_user("victor")
    add_member(workspace, viewer, Role.VIEWER)
    stranger = make_user("stranger")

    assert client_for(viewer).get(_url(workspace, "openai")).status_code == 200
    denied = client_for(viewer).put(_url(workspace, "openai"), {"api_key": WORKSPACE_KEY})
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "insufficient_role"
    hidden = client_for(stranger).put(_url(workspace, "openai"), {"api_key": WORKSPACE_KEY})
    assert hidden.status_code == 404
    assert client_for(stranger).get(_url(workspace)).status_code == 404


@pytest.mark.parametrize(
    ("provider", "body", "status", "code"),
    [
        ("local", {"api_key": WORKSPACE_KEY}, 404, "not_found"),
        ("openai", {"api_key": "short"}, 400, "validation_error"),
        ("openai", {"api_key": "has a space inside it"}, 400, "validation_error"),
        ("openai", {}, 400, "validation_error"),
        ("openai", {"api_key": ["list"]}, 400, "validation_error"),
    ],
)
def test_bad_input(alice_api, workspace, provider, body, status, code):
    response = alice_api.put(_url(workspace, provider), body, format="json")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


@pytest.fixture
def openai_at_local_server(local_llm, settings):
    """The local OpenAI-compatible server stands in for api.openai.com."""
    settings.OPENAI_API_BASE = local_llm.base_url
    settings.OPENAI_API_KEY = "sk-environment-key-9999"
    return local_llm


def test_gateway_prefers_the_workspace_key(
    openai_at_local_server, alice_api, workspace, other_workspace
):
    alice_api.put(_url(workspace, "openai"), {"api_key": WORKSPACE_KEY})

    result = services.complete(
        workspace=workspace, prompt="hello", model="openai/gpt-4o-mini", use_cache=False
    )
    services.complete(
        workspace=other_workspace, prompt="hello", model="openai/gpt-4o-mini", use_cache=False
    )

    assert result.content == openai_at_local_server.reply
    mine, theirs = openai_at_local_server.requests
    assert mine["auth"] == f"Bearer {WORKSPACE_KEY}"
    assert theirs["auth"] == "Bearer sk-environment-key-9999"


def test_workspace_key_configures_a_provider_the_environment_lacks(
    openai_at_local_server, settings, alice_api, workspace, other_workspace
):
    settings.OPENAI_API_KEY = ""
    alice_api.put(_url(workspace, "openai"), {"api_key": WORKSPACE_KEY})

    services.complete(workspace=workspace, prompt="hi", model="openai/gpt-4o-mini")
    with pytest.raises(services.errors.ProviderNotConfigured):
        services.complete(workspace=other_workspace, prompt="hi", model="openai/gpt-4o-mini")
    assert [r["auth"] for r in openai_at_local_server.requests] == [f"Bearer {WORKSPACE_KEY}"]
