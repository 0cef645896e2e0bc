import pytest

from accounts.models import Role
from accounts.scoping import Actor
from config.errors import NotFound
from workflows import authoring
from workflows.errors import DefinitionError
from workflows.models import Step, WorkflowVersion

pytestmark = pytest.mark.django_db

DEFINITION = {
    "name": "Notes",
    "inputs": [{"name": "notes", "type": "text"}],
    "steps": [
        {"key": "summary", "kind": "generate", "prompt": "Summarise {{ inputs.notes }}"},
        {"key": "actions", "kind": "generate", "prompt": "Actions from {{ steps.summary.output }}"},
    ],
}


def test_create_saves_steps_and_version_one(user, workspace):
    workflow = authoring.create_workflow(
        actor=Actor(user), workspace=workspace, definition=DEFINITION
    )
    assert workflow.version == 1 and workflow.name == "Notes"
    assert list(workflow.steps.values_list("key", "position")) == [("summary", 0), ("actions", 1)]
    assert authoring.current_definition(workflow)["steps"][1]["key"] == "actions"


def test_replace_bumps_version_and_keeps_history(user, workspace):
    workflow = authoring.create_workflow(
        actor=Actor(user), workspace=workspace, definition=DEFINITION
    )
    changed = {**DEFINITION, "steps": DEFINITION["steps"][:1]}
    workflow = authoring.replace_definition(
        actor=Actor(user), workflow=workflow, definition=changed
    )
    assert workflow.version == 2
    assert Step.objects.filter(workflow=workflow).count() == 1
    versions = dict(WorkflowVersion.objects.filter(workflow=workflow).values_list("version", "id"))
    assert set(versions) == {1, 2}


def test_invalid_definition_saves_nothing(user, workspace):
    bad = {**DEFINITION, "steps": [{"key": "x", "kind": "poem"}]}
    with pytest.raises(DefinitionError):
        authoring.create_workflow(actor=Actor(user), workspace=workspace, definition=bad)
    assert not workspace.workflows.exists()


def test_roles_are_checked(user, other_user, workspace, add_member):
    with pytest.raises(NotFound):
        authoring.create_workflow(
            actor=Actor(other_user), workspace=workspace, definition=DEFINITION
        )
    add_member(workspace, other_user, Role.VIEWER)
    with pytest.raises(Exception, match="editor"):
        authoring.create_workflow(
            actor=Actor(other_user), workspace=workspace, definition=DEFINITION
        )
