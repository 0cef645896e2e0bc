"""Step (node) management: each change validated whole and saved as a new version."""

import pytest

from config.testing import assert_error
from workflows import authoring
from workflows.models import Step, Workflow, WorkflowVersion
from workflows.tests.factories import make_workflow

pytestmark = pytest.mark.django_db


def steps_url(workflow) -> str:
    return f"/api/v3/workflows/{workflow.id}/steps/"


def versions(workflow) -> list[int]:
    return sorted(
        WorkflowVersion.objects.filter(workflow=workflow).values_list("version", flat=True)
    )


def keys(workflow) -> list[str]:
    return list(Step.objects.filter(workflow=workflow).values_list("key", flat=True))


def test_list_and_retrieve(alice_api, user, workspace):
    workflow = make_workflow(user, workspace)
    body = alice_api.get(steps_url(workflow)).json()
    assert body["count"] == 2 and [s["key"] for s in body["results"]] == ["summary", "actions"]
    step = alice_api.get(f"{steps_url(workflow)}actions/").json()
    assert step["position"] == 1 and step["depends_on"] is None and step["timeout"] == 120
    assert_error(alice_api.get(f"{steps_url(workflow)}nothing/"), 404, "not_found")


def test_every_step_change_is_a_new_version(alice_api, user, workspace):
    workflow = make_workflow(user, workspace)
    url = steps_url(workflow)

    added = alice_api.post(
        url,
        {"key": "email", "kind": "generate", "prompt": "Mail: {{ steps.actions.output }}"},
        format="json",
    )
    assert added.status_code == 201, added.content
    assert added.json()["key"] == "email" and added.json()["position"] == 2
    assert versions(workflow) == [1, 2]

    inserted = alice_api.post(
        url,
        {"key": "title", "kind": "transform", "prompt": "{{ inputs.notes }}", "position": 0},
        format="json",
    )
    assert inserted.status_code == 201
    assert keys(workflow) == ["title", "summary", "actions", "email"]
    assert versions(workflow) == [1, 2, 3]

    edited = alice_api.patch(
        f"{url}email/", {"parameters": {"temperature": 0.3}, "name": "Email"}, format="json"
    )
    assert edited.status_code == 200 and edited.json()["parameters"] == {"temperature": 0.3}
    # null puts a field back to its default.
    reset = alice_api.patch(f"{url}email/", {"parameters": None}, format="json")
    assert reset.json()["parameters"] == {} and reset.json()["name"] == "Email"
    assert versions(workflow) == [1, 2, 3, 4, 5]

    replaced = alice_api.put(
        f"{url}email/", {"kind": "transform", "prompt": "{{ steps.summary.output }}"}, "json"
    )
    assert replaced.status_code == 200 and replaced.json()["name"] == ""

    reordered = alice_api.post(
        f"{url}reorder", {"keys": ["summary", "title", "actions", "email"]}, format="json"
    )
    assert reordered.status_code == 200, reordered.content
    assert [s["key"] for s in reordered.json()["steps"]] == ["summary", "title", "actions", "email"]

    assert alice_api.delete(f"{url}title/").status_code == 204
    assert keys(workflow) == ["summary", "actions", "email"]
    assert versions(workflow) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert Workflow.objects.get(pk=workflow.pk).version == 8
    # The invariant the engine relies on: the current version's row matches the steps.
    workflow.refresh_from_db()
    current = authoring.current_definition(workflow)
    assert [s["key"] for s in current["steps"]] == keys(workflow)


def test_renaming_a_key(alice_api, user, workspace):
    workflow = make_workflow(
        user,
        workspace,
        {"name": "One", "steps": [{"key": "a", "kind": "transform", "prompt": "x"}]},
    )
    response = alice_api.patch(f"{steps_url(workflow)}a/", {"key": "b"}, format="json")
    assert response.status_code == 200 and response.json()["key"] == "b"
    assert keys(workflow) == ["b"]


def test_bad_step_changes_name_the_step_and_change_nothing(alice_api, user, workspace):
    workflow = make_workflow(user, workspace)
    url = steps_url(workflow)
    cases = [
        (
            alice_api.post(url, {"key": "summary", "kind": "transform", "prompt": "x"}, "json"),
            "summary",
            "duplicate key",
        ),
        (alice_api.post(url, {"key": "x", "kind": "poem"}, "json"), "x", "unknown kind"),
        (
            alice_api.post(url, {"key": "x", "kind": "transform", "prompt": "{% for %}"}, "json"),
            "x",
            "does not parse",
        ),
        (
            alice_api.post(
                url,
                {"key": "x", "kind": "transform", "prompt": "y", "depends_on": ["ghost"]},
                "json",
            ),
            "x",
            "unknown step 'ghost'",
        ),
        (
            alice_api.post(
                url, {"key": "x", "kind": "transform", "prompt": "y", "colour": 1}, "json"
            ),
            "x",
            "unknown field 'colour'",
        ),
        (
            alice_api.patch(f"{url}summary/", {"depends_on": ["actions"]}, "json"),
            "summary",
            "cycle",
        ),
        (
            alice_api.patch(f"{url}summary/", {"prompt": "{{ steps.actions.output }}"}, "json"),
            "summary",
            "not upstream",
        ),
        # Deleting a step another step uses is refused, naming the step that uses it.
        (alice_api.delete(f"{url}summary/"), "actions", "not upstream"),
    ]
    for response, key, words in cases:
        error = assert_error(response, 400, "invalid_definition")
        assert key in error["message"], error
        assert any(words in p for p in error["details"]["steps"][key]), error
    # Reordering actions before summary makes summary depend on actions: not upstream.
    reorder = alice_api.post(f"{url}reorder", {"keys": ["actions", "summary"]}, format="json")
    assert "actions" in assert_error(reorder, 400, "invalid_definition")["message"]
    wrong = alice_api.post(f"{url}reorder", {"keys": ["summary"]}, format="json")
    assert assert_error(wrong, 400, "invalid_definition")["details"]["keys"]["missing"] == [
        "actions"
    ]
    assert_error(alice_api.post(url, ["not", "a", "step"], format="json"), 400, "validation_error")
    assert versions(workflow) == [1]
    assert keys(workflow) == ["summary", "actions"]


def test_versions_list_and_detail(alice_api, user, workspace):
    workflow = make_workflow(user, workspace)
    alice_api.patch(f"{steps_url(workflow)}summary/", {"name": "Summary"}, format="json")
    body = alice_api.get(f"/api/v3/workflows/{workflow.id}/versions/").json()
    assert [v["version"] for v in body["results"]] == [2, 1]
    assert body["results"][0]["created_by"] == "alice" and "definition" not in body["results"][0]
    first = alice_api.get(f"/api/v3/workflows/{workflow.id}/versions/1/").json()
    assert "name" not in first["definition"]["steps"][0]
    second = alice_api.get(f"/api/v3/workflows/{workflow.id}/versions/2/").json()
    assert second["definition"]["steps"][0]["name"] == "Summary"
    assert_error(alice_api.get(f"/api/v3/workflows/{workflow.id}/versions/9/"), 404)
