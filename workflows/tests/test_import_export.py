"""Import and export through the API and the management commands; every example round-trips."""

import json
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import CommandError, call_command

from accounts.models import User
from accounts.services import create_workspace
from config.testing import assert_error
from workflows import authoring
from workflows.definition import load_text, parse_definition
from workflows.models import Workflow
from workflows.tests.factories import NOTES

pytestmark = pytest.mark.django_db

EXAMPLES = sorted((Path(settings.BASE_DIR) / "examples").glob("*.yaml"))
IMPORT = "/api/v3/workflows/import"


def test_there_are_examples():
    names = {path.stem for path in EXAMPLES}
    assert {"press-kit", "meeting-follow-up", "research-brief"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_round_trips_through_the_api(alice_api, workspace, path):
    text = path.read_text()
    canonical = parse_definition(load_text(text)).to_dict()

    imported = alice_api.post(
        f"{IMPORT}?workspace={workspace.id}", text, content_type="application/yaml"
    )
    assert imported.status_code == 201, imported.content
    workflow_id = imported.json()["id"]
    assert imported.json()["version"] == 1

    as_json = alice_api.get(f"/api/v3/workflows/{workflow_id}/export")
    assert as_json.status_code == 200 and as_json["Content-Type"] == "application/json"
    assert as_json.json() == canonical

    as_yaml = alice_api.get(f"/api/v3/workflows/{workflow_id}/export", {"format": "yaml"})
    assert as_yaml.status_code == 200
    assert as_yaml["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.content) == canonical

    # Export then import gives the same definition, from JSON and from YAML.
    again = alice_api.post(IMPORT, {"definition": as_json.json()}, format="json")
    assert again.status_code == 201
    assert authoring.current_definition(Workflow.objects.get(pk=again.json()["id"])) == canonical
    again_yaml = alice_api.post(IMPORT, as_yaml.content, content_type="text/yaml; charset=utf-8")
    assert again_yaml.status_code == 201
    workflow = Workflow.objects.get(pk=again_yaml.json()["id"])
    assert authoring.current_definition(workflow) == canonical


def test_json_import_takes_yaml_text_too(alice_api, workspace):
    text = yaml.safe_dump(NOTES)
    response = alice_api.post(IMPORT, {"workspace": workspace.id, "definition": text}, "json")
    assert response.status_code == 201 and response.json()["name"] == "Meeting notes"
    assert response.json()["workspace"] == workspace.id


def test_bad_imports(alice_api, workspace, other_workspace):
    bad_yaml = alice_api.post(IMPORT, "name: [unclosed", content_type="application/yaml")
    assert_error(bad_yaml, 400, "parse_error")
    bad_text = alice_api.post(IMPORT, {"definition": "name: [unclosed"}, format="json")
    assert_error(bad_text, 400, "invalid_definition")
    not_a_mapping = alice_api.post(IMPORT, "- a\n- b\n", content_type="application/yaml")
    assert_error(not_a_mapping, 400, "invalid_definition")
    assert_error(alice_api.post(IMPORT, {}, format="json"), 400, "validation_error")
    theirs = alice_api.post(
        f"{IMPORT}?workspace={other_workspace.id}",
        yaml.safe_dump(NOTES),
        content_type="application/yaml",
    )
    assert assert_error(theirs, 400, "validation_error")["details"]["workspace"]
    assert not Workflow.objects.exists()


def test_the_commands_round_trip(user, workspace, tmp_path):
    source = EXAMPLES[0]
    out = StringIO()
    call_command("import_workflow", str(source), "--user", "alice", stdout=out)
    workflow = Workflow.objects.get(workspace=workspace)
    assert f"Imported workflow {workflow.id}" in out.getvalue()

    target = tmp_path / "out.yaml"
    call_command("export_workflow", str(workflow.id), str(target), "--user", "alice", stdout=out)
    assert load_text(target.read_text()) == authoring.current_definition(workflow)
    as_json = StringIO()
    call_command(
        "export_workflow", workflow.name, "--format", "json", "--user", "alice", stdout=as_json
    )
    assert json.loads(as_json.getvalue()) == authoring.current_definition(workflow)

    call_command("import_workflow", str(target), "--user", "alice", stdout=out)
    second = Workflow.objects.exclude(pk=workflow.pk).get()
    assert authoring.current_definition(second) == authoring.current_definition(workflow)


def test_command_errors_are_clear(user, workspace, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps:\n  - {key: a, kind: poem}\n")
    with pytest.raises(CommandError, match="Step 'a': unknown kind"):
        call_command("import_workflow", str(bad), "--user", "alice")
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("import_workflow", str(bad), "--user", "nobody")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_workflow", str(tmp_path / "missing.yaml"), "--user", "alice")
    with pytest.raises(CommandError, match="No workflow"):
        call_command("export_workflow", "404", "--user", "alice")


def test_load_examples_is_idempotent(make_user):
    admin = make_user("admin")
    demo = create_workspace(creator=User.objects.get(pk=admin.pk), name="Demo")
    out = StringIO()
    call_command("load_examples", "--workspace", demo.slug, stdout=out)
    assert f"{len(EXAMPLES)} added" in out.getvalue()
    call_command("load_examples", "--workspace", demo.slug, stdout=out)
    assert "0 added" in out.getvalue()
    assert Workflow.objects.filter(workspace=demo).count() == len(EXAMPLES)
    # By default: the admin's first workspace (the personal one).
    call_command("load_examples", stdout=out)
    assert Workflow.objects.filter(workspace__is_personal=True).count() == len(EXAMPLES)


def test_yaml_aliases_are_refused(alice_api):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    response = alice_api.post(IMPORT, bomb, content_type="application/yaml")
    assert "aliases" in assert_error(response, 400, "parse_error")["message"]
    as_text = alice_api.post(IMPORT, {"definition": bomb}, format="json")
    assert "aliases" in assert_error(as_text, 400, "invalid_definition")["message"]
    # Plain YAML and JSON still read.
    assert load_text('{"name": "x", "steps": []}') == {"name": "x", "steps": []}
