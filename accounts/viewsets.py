"""The base every workspace-owned API is built on: scoping, role checks and the default
workspace live here once, so an app's viewset is a queryset, a serializer and a filterset.

In `accounts` (which owns workspaces and roles), not in `config`: `config` is the foundation
every app imports (errors, the error handler, pagination) and must import no app itself,
except where it wires them together (urls, the router)."""

from functools import cached_property

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import permissions, serializers, viewsets

from accounts.models import Role, Workspace
from accounts.scoping import Actor, require_role, scope_to_workspaces, workspaces_for


class WorkspaceScopedMixin:
    """Restricts the queryset to the caller's workspaces (others' objects are 404) and checks
    `write_role` on the object's (or the parent's) workspace before any unsafe method."""

    workspace_field = "workspace"  # path from the model to its Workspace
    write_role = Role.EDITOR

    @cached_property
    def actor(self) -> Actor:
        return Actor.from_request(self.request)

    def get_queryset(self):
        return scope_to_workspaces(super().get_queryset(), self.actor, field=self.workspace_field)

    def workspace_of(self, obj) -> Workspace | int:
        target = obj
        for part in self.workspace_field.split("__"):
            target = getattr(target, part)
        return target

    def parent_workspace(self) -> Workspace | int | None:
        """For a view nested under another object (`/workflows/{id}/steps/`): the parent's
        workspace, read (404 outside the caller's workspaces) before the body is."""
        return None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # A write under a parent: the caller's access is settled before the body is parsed,
        # so an outsider gets 404 and a viewer 403, never a validation error about the body.
        if request.method not in permissions.SAFE_METHODS:
            parent = self.parent_workspace()
            if parent is not None:
                require_role(self.actor, parent, self.write_role)

    def check_object_permissions(self, request, obj):
        super().check_object_permissions(request, obj)
        if request.method not in permissions.SAFE_METHODS:
            require_role(self.actor, self.workspace_of(obj), self.write_role)

    def perform_create(self, serializer):
        workspace = serializer.validated_data.get("workspace")
        if workspace is not None:
            require_role(self.actor, workspace, self.write_role)
        super().perform_create(serializer)


class WorkspaceScopedViewSet(WorkspaceScopedMixin, viewsets.GenericViewSet):
    pass


class WorkspaceScopedModelViewSet(WorkspaceScopedMixin, viewsets.ModelViewSet):
    pass


class DefaultWorkspace:
    """Serializer default: the API key's workspace, else the caller's personal workspace."""

    requires_context = True

    def __call__(self, field):
        actor = Actor.from_request(field.context["request"])
        if actor.api_key is not None:
            return actor.api_key.workspace
        reachable = workspaces_for(actor)
        return reachable.filter(is_personal=True).first() or reachable.first()


@extend_schema_field(OpenApiTypes.INT)  # typed even in plain (non-model) serializers
class WorkspaceField(serializers.PrimaryKeyRelatedField):
    """A workspace id limited to the caller's workspaces: another workspace's id reads as
    'does not exist', never as 'forbidden'."""

    def __init__(self, **kwargs):
        kwargs.setdefault("default", DefaultWorkspace())
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return Workspace.objects.none()
        return workspaces_for(Actor.from_request(request))


class InCallersWorkspacesField(serializers.PrimaryKeyRelatedField):
    """The id of a workspace-owned object (a channel, a workflow), limited to the caller's
    workspaces: another workspace's id reads as 'does not exist', as a missing one does, so
    the answer does not tell an outsider which ids exist."""

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return super().get_queryset().none()
        return scope_to_workspaces(super().get_queryset(), Actor.from_request(request))
