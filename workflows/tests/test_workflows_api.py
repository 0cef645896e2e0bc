"""The workflows API: CRUD, scoping, roles, and every bad definition as a 400 naming the step."""

import pytest

from accounts.models import Role, Workspace
from config.testing import assert_error
from workflows.models import Workflow, WorkflowVersion
from workflows.tests.factories import NOTES, make_document, make_run, make_workflow

pytestmark = pytest.mark.django_db

URL = "/api/v3/workflows/"


def test_create_returns_the_workflow_with_its_steps(alice_api, workspace):
    response = alice_api.post(URL, {**NOTES, "status": "draft"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["workspace"] == workspace.id
    assert body["version"] == 1 and body["status"] == "draft"
    assert [s["key"] for s in body["steps"]] == ["summary", "actions"]
    assert body["steps"][1]["retry"] == {"max_attempts": 3, "backoff_seconds": 2.0}
    assert WorkflowVersion.objects.filter(workflow_id=body["id"], version=1).exists()


def test_list_filters_and_searches(alice_api, user, workspace, other_user, other_workspace):
    make_workflow(user, workspace, {**NOTES, "name": "Press kit"})
    make_workflow(user, workspace, {**NOTES, "name": "Research brief"}, status="archived")
    make_workflow(other_user, other_workspace, {**NOTES, "name": "Press kit elsewhere"})
    body = alice_api.get(URL).json()
    assert body["count"] == 2 and body["results"][0]["step_count"] == 2
    assert [w["name"] for w in alice_api.get(URL, {"q": "press"}).json()["results"]] == [
        "Press kit"
    ]
    archived = alice_api.get(URL, {"status": "archived"}).json()["results"]
    assert [w["name"] for w in archived] == ["Research brief"]
    assert_error(alice_api.get(URL, {"status": "lost"}), 400, "validation_error")


def test_patch_fields_and_status(alice_api, user, workspace):
    workflow = make_workflow(user, workspace)
    url = f"{URL}{workflow.id}/"
    renamed = alice_api.patch(url, {"name": "Standup notes"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["version"] == 2
    archived = alice_api.patch(url, {"status": "archived"}, format="json").json()
    # Status is not part of the definition: no new version.
    assert archived["status"] == "archived" and archived["version"] == 2
    inputs = [{"name": "notes", "type": "text"}, {"name": "team", "default": "core"}]
    body = alice_api.patch(url, {"inputs": inputs, "default_model": "offline/x"}, format="json")
    assert body.json()["version"] == 3
    assert body.json()["inputs"][1] == {
        "name": "team",
        "type": "string",
        "required": True,
        "default": "core",
    }
    definition = WorkflowVersion.objects.get(workflow=workflow, version=3).definition
    assert definition["name"] == "Standup notes" and definition["default_model"] == "offline/x"
    assert_error(alice_api.patch(url, {"status": "gone"}, format="json"), 400, "validation_error")


def test_put_replaces_the_whole_definition(alice_api, user, workspace):
    workflow = make_workflow(user, workspace)
    steps = [{"key": "only", "kind": "transform", "prompt": "{{ inputs.notes }}"}]
    body = alice_api.put(
        f"{URL}{workflow.id}/",
        {"name": "Short", "inputs": [{"name": "notes"}], "steps": steps},
        format="json",
    ).json()
    assert body["version"] == 2 and body["description"] == ""
    assert [s["key"] for s in body["steps"]] == ["only"]
    missing = alice_api.put(f"{URL}{workflow.id}/", {"name": "No steps"}, format="json")
    assert assert_error(missing, 400, "invalid_definition")["details"]["steps"]


def test_an_unchanged_definition_is_not_a_new_version(alice_api, user, workspace):
    workflow = make_workflow(user, workspace)
    response = alice_api.patch(f"{URL}{workflow.id}/", {"name": NOTES["name"]}, format="json")
    assert response.json()["version"] == 1


def test_delete(alice_api, user, workspace):
    workflow = make_workflow(user, workspace)
    make_run(workflow, status="running")
    assert_error(alice_api.delete(f"{URL}{workflow.id}/"), 409, "workflow_in_use")
    workflow.runs.update(status="succeeded")
    assert alice_api.delete(f"{URL}{workflow.id}/").status_code == 204
    assert not Workflow.objects.filter(pk=workflow.pk).exists()


def test_other_workspaces_are_404(alice_api, other_user, other_workspace, workspace):
    theirs = make_workflow(other_user, other_workspace)
    for response in (
        alice_api.get(f"{URL}{theirs.id}/"),
        alice_api.patch(f"{URL}{theirs.id}/", {"name": "x"}, format="json"),
        alice_api.delete(f"{URL}{theirs.id}/"),
        alice_api.get(f"{URL}{theirs.id}/steps/"),
        alice_api.get(f"{URL}{theirs.id}/versions/"),
        alice_api.get(f"{URL}{theirs.id}/export"),
        alice_api.get(f"{URL}{theirs.id}/analytics"),
        alice_api.get(f"{URL}{theirs.id}/schedules/"),
        alice_api.post(f"{URL}{theirs.id}/steps/reorder", {"keys": ["a"]}, format="json"),
    ):
        assert_error(response, 404, "not_found")
    # Naming another workspace on create reads as "no such workspace", not "forbidden".
    create = alice_api.post(URL, {**NOTES, "workspace": other_workspace.id}, format="json")
    assert assert_error(create, 400, "validation_error")["details"]["workspace"]


def test_viewer_reads_but_cannot_write(client_for, user, other_user, workspace, add_member):
    workflow = make_workflow(user, workspace)
    add_member(workspace, other_user, Role.VIEWER)
    viewer = client_for(other_user)
    assert viewer.get(f"{URL}{workflow.id}/").status_code == 200
    assert viewer.get(f"{URL}{workflow.id}/export").status_code == 200
    step = {"key": "email", "kind": "transform", "prompt": "x"}
    for response in (
        viewer.post(URL, {**NOTES, "workspace": workspace.id}, format="json"),
        viewer.patch(f"{URL}{workflow.id}/", {"name": "x"}, format="json"),
        viewer.delete(f"{URL}{workflow.id}/"),
        viewer.post(f"{URL}{workflow.id}/steps/", step, format="json"),
        viewer.patch(f"{URL}{workflow.id}/steps/summary/", {"name": "x"}, format="json"),
        viewer.delete(f"{URL}{workflow.id}/steps/actions/"),
        viewer.post(
            f"{URL}{workflow.id}/steps/reorder", {"keys": ["actions", "summary"]}, format="json"
        ),
        viewer.post(
            "/api/v3/workflows/import", {"workspace": workspace.id, "definition": NOTES}, "json"
        ),
        viewer.post(
            f"{URL}{workflow.id}/schedules/", {"name": "x", "cron": "0 9 * * *"}, format="json"
        ),
    ):
        assert_error(response, 403, "insufficient_role")
    assert Workflow.objects.get(pk=workflow.pk).version == 1


def test_editor_can_write(client_for, user, other_user, workspace, add_member):
    add_member(workspace, other_user, Role.EDITOR)
    response = client_for(other_user).post(URL, {**NOTES, "workspace": workspace.id}, format="json")
    assert response.status_code == 201


def test_unauthenticated_is_401(api):
    assert_error(api.get(URL), 401)


BAD_DEFINITIONS = [
    # (definition changes, where the problem is reported, words of the message)
    (
        {
            "steps": [
                {"key": "a", "kind": "transform", "prompt": "x", "depends_on": ["b"]},
                {"key": "b", "kind": "transform", "prompt": "x", "depends_on": ["a"]},
            ]
        },
        ("steps", "a"),
        "cycle",
    ),
    (
        {"steps": [{"key": "a", "kind": "transform", "prompt": "x", "depends_on": ["ghost"]}]},
        ("steps", "a"),
        "unknown step 'ghost'",
    ),
    (
        {"steps": [{"key": "a", "kind": "transform", "prompt": "{% if %}"}]},
        ("steps", "a"),
        "does not parse",
    ),
    (
        {
            "steps": [
                {"key": "a", "kind": "transform", "prompt": "x"},
                {"key": "b", "kind": "transform", "prompt": "x", "depends_on": []},
                {"key": "c", "kind": "transform", "prompt": "{{ steps.a.output }}"},
            ]
        },
        ("steps", "c"),
        "not upstream",
    ),
    ({"steps": [{"key": "a", "kind": "poem", "prompt": "x"}]}, ("steps", "a"), "unknown kind"),
    (
        {
            "steps": [
                {"key": "a", "kind": "transform", "prompt": "x"},
                {"key": "a", "kind": "transform", "prompt": "y"},
            ]
        },
        ("steps", "a"),
        "duplicate key",
    ),
    (
        {
            "inputs": [{"name": "count", "type": "integer", "default": "many"}],
            "steps": [{"key": "a", "kind": "transform", "prompt": "x"}],
        },
        ("inputs", "count"),
        "not of type integer",
    ),
]


@pytest.mark.parametrize(("changes", "where", "words"), BAD_DEFINITIONS)
def test_every_bad_definition_is_a_400_naming_the_problem(
    alice_api, user, workspace, changes, where, words
):
    definition = {"name": "Bad", **changes}
    group, name = where

    def check(response):
        error = assert_error(response, 400, "invalid_definition")
        assert name in error["message"] and words in error["message"], error
        assert any(words in problem for problem in error["details"][group][name]), error

    check(alice_api.post(URL, definition, format="json"))
    body = {"workspace": workspace.id, "definition": definition}
    check(alice_api.post("/api/v3/workflows/import", body, format="json"))
    workflow = make_workflow(user, workspace)
    check(alice_api.put(f"{URL}{workflow.id}/", definition, format="json"))
    assert Workflow.objects.count() == 1
    assert Workflow.objects.get().version == 1


def test_api_keys_are_scoped_and_read_only_keys_cannot_write(api, alice_api, user, workspace):
    second = alice_api.post("/api/v3/workspaces/", {"name": "Second"}).json()
    elsewhere = make_workflow(user, Workspace.objects.get(pk=second["id"]))
    mine = make_workflow(user, workspace)
    created = alice_api.post(
        "/api/v3/security/api-keys/",
        {"name": "ci", "workspace": workspace.id, "scopes": ["read"]},
        format="json",
    )
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {created.json()['key']}")
    assert [w["id"] for w in api.get(URL).json()["results"]] == [mine.id]
    assert_error(api.get(f"{URL}{elsewhere.id}/"), 404)
    assert_error(api.post(URL, NOTES, format="json"), 403, "insufficient_scope")
    assert_error(api.patch(f"{URL}{mine.id}/", {"name": "x"}, format="json"), 403)


def test_browsable_api_pages_render(alice_api, user, workspace):
    workflow = make_workflow(user, workspace)
    run = make_run(workflow)
    document = make_document(run, "summary")
    base = f"{URL}{workflow.id}"
    for url in (
        URL,
        f"{base}/",
        f"{base}/steps/",
        f"{base}/steps/summary/",
        f"{base}/versions/",
        f"{base}/versions/1/",
        f"{base}/export",
        f"{base}/analytics",
        f"{base}/schedules/",
        "/api/v3/documents/",
        f"/api/v3/documents/{document.id}/",
        f"/api/v3/documents/{document.id}/lineage",
        f"/api/v3/runs/{run.id}/documents/",
        f"/api/v3/workspaces/{workspace.id}/budget",
    ):
        response = alice_api.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("text/html"), url


def test_the_lists_direct_rows_are_what_drf_would_write(alice_api, user, workspace):
    """WorkflowSerializer writes its fields out directly (the list's hot path): the same
    output as DRF's generic path, field for field, including a workflow with no creator."""
    from rest_framework import serializers

    from accounts.scoping import Actor
    from workflows import selectors
    from workflows.serializers import WorkflowSerializer

    make_workflow(user, workspace)
    orphan = make_workflow(user, workspace)
    Workflow.objects.filter(pk=orphan.pk).update(created_by=None, default_parameters={"k": 1})
    rows = list(selectors.workflows_for(Actor(user)).select_related("created_by"))
    serializer = WorkflowSerializer()
    for workflow in rows:
        generic = serializers.ModelSerializer.to_representation(serializer, workflow)
        assert serializer.to_representation(workflow) == generic
    listed = alice_api.get("/api/v3/workflows/").json()["results"]
    assert [row["step_count"] for row in listed] == [len(NOTES["steps"])] * 2
