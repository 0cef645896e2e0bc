"""The scoping helper is what keeps workspaces apart in every app; prove it here once."""

import pytest

from accounts import services
from accounts.errors import InsufficientRole
from accounts.models import ApiKey, ApiKeyScope, Membership, Role
from accounts.scoping import Actor, require_role, role_in, scope_to_workspaces, workspaces_for
from config.errors import NotFound

pytestmark = pytest.mark.django_db


def test_user_sees_only_workspaces_they_belong_to(user, other_user, workspace, other_workspace):
    assert list(workspaces_for(Actor(user))) == [workspace]
    assert list(workspaces_for(Actor(other_user))) == [other_workspace]


def test_scope_follows_a_path_to_the_workspace(user, other_user, workspace, other_workspace):
    # Membership rows point at a workspace: scope them through "workspace".
    scoped = scope_to_workspaces(Membership.objects.all(), Actor(user))
    assert {m.workspace_id for m in scoped} == {workspace.id}
    # And through a longer path: ApiKey -> workspace.
    mine, _ = ApiKey.objects.create_key(name="a", workspace=workspace, created_by=user)
    ApiKey.objects.create_key(name="b", workspace=other_workspace, created_by=other_user)
    assert list(scope_to_workspaces(ApiKey.objects.all(), Actor(user))) == [mine]


def test_min_role_filters_workspaces(user, other_user, other_workspace, add_member, workspace):
    add_member(other_workspace, user, Role.VIEWER)
    assert set(workspaces_for(Actor(user))) == {workspace, other_workspace}
    assert list(workspaces_for(Actor(user), min_role=Role.EDITOR)) == [workspace]


def test_anonymous_sees_nothing(user, workspace):
    from django.contrib.auth.models import AnonymousUser

    assert not workspaces_for(Actor(AnonymousUser())).exists()


def test_require_role_404_for_strangers_403_for_low_roles(user, other_user, workspace, add_member):
    with pytest.raises(NotFound):
        require_role(Actor(other_user), workspace, Role.VIEWER)
    add_member(workspace, other_user, Role.VIEWER)
    assert require_role(Actor(other_user), workspace, Role.VIEWER) == Role.VIEWER
    with pytest.raises(InsufficientRole):
        require_role(Actor(other_user), workspace, Role.EDITOR)
    assert require_role(Actor(user), workspace, Role.OWNER) == Role.OWNER


def test_api_key_narrows_to_its_workspace_and_scope(user, workspace):
    second = services.create_workspace(creator=user, name="Second")
    key, _ = ApiKey.objects.create_key(
        name="ro", workspace=workspace, created_by=user, scopes=[ApiKeyScope.READ]
    )
    actor = Actor(user, api_key=key)
    assert list(workspaces_for(actor)) == [workspace]
    assert role_in(actor, workspace) == Role.VIEWER  # owner, capped by a read-only key
    assert role_in(actor, second) is None
    assert not workspaces_for(actor, min_role=Role.EDITOR).exists()

    key.scopes = [ApiKeyScope.READ, ApiKeyScope.WRITE]
    assert role_in(Actor(user, api_key=key), workspace) == Role.EDITOR
    # Without the key the same user reaches both workspaces: the key is what narrowed it.
    assert set(workspaces_for(Actor(user))) == {workspace, second}
