"""Smart defaults: suggested inputs (declared default, else your last successful run) and
starting a run with `use_suggested_inputs`, which records what it filled."""

import pytest

from config.testing import assert_error
from workflows.models import Run, RunStatus
from workflows.tests.factories import make_run, make_workflow

pytestmark = pytest.mark.django_db

BRIEF = {
    "name": "Brief",
    "inputs": [
        {"name": "topic", "type": "string"},
        {"name": "tone", "type": "string", "required": False, "default": "friendly"},
        {"name": "words", "type": "integer", "required": False},
    ],
    "steps": [{"key": "brief", "kind": "transform", "prompt": "{{ inputs.topic }}"}],
}


@pytest.fixture
def brief(user, workspace):
    return make_workflow(user, workspace, BRIEF)


def suggestions(client, workflow) -> dict:
    response = client.get(f"/api/v3/workflows/{workflow.pk}/suggested-inputs")
    assert response.status_code == 200, response.content
    return {row["name"]: row for row in response.json()["inputs"]}


def test_declared_defaults_then_your_last_successful_run(alice_api, brief, user, other_user):
    rows = suggestions(alice_api, brief)
    assert rows["tone"] == {
        "name": "tone",
        "type": "string",
        "required": False,
        "value": "friendly",
        "source": "default",
        "run": None,
    }
    assert rows["topic"]["source"] is None and rows["topic"]["value"] is None

    older = make_run(brief, created_by=user, inputs={"topic": "tea", "words": 100}, seconds=1)
    last = make_run(brief, created_by=user, inputs={"topic": "coffee", "words": 200}, seconds=1)
    make_run(brief, created_by=user, status=RunStatus.FAILED, inputs={"topic": "failed"})
    make_run(brief, created_by=other_user, inputs={"topic": "someone else's"}, seconds=1)
    assert older.pk < last.pk
    rows = suggestions(alice_api, brief)
    assert (rows["topic"]["value"], rows["topic"]["source"]) == ("coffee", "last_run")
    assert rows["topic"]["run"] == last.pk
    assert rows["words"]["value"] == 200
    assert rows["tone"]["source"] == "default"  # a declared default wins


def test_a_run_with_use_suggested_inputs_records_what_it_filled(alice_api, brief, user):
    url = f"/api/v3/workflows/{brief.pk}/runs/"
    # Without the flag a missing required input is refused, never filled silently.
    assert_error(alice_api.post(url, {"inputs": {}}, format="json"), 400)
    # With it, and nothing to suggest, still refused.
    response = alice_api.post(url, {"inputs": {}, "use_suggested_inputs": True}, format="json")
    assert_error(response, 400)

    last = make_run(brief, created_by=user, inputs={"topic": "coffee", "words": 200}, seconds=1)
    response = alice_api.post(
        url, {"inputs": {"words": 50}, "use_suggested_inputs": True}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["inputs"] == {"topic": "coffee", "tone": "friendly", "words": 50}
    assert body["inputs_filled"] == {
        "topic": {"value": "coffee", "source": "last_run", "run": last.pk},
        "tone": {"value": "friendly", "source": "default", "run": None},
    }
    assert Run.objects.get(pk=body["id"]).inputs_filled["topic"]["source"] == "last_run"
    # A plain start records nothing filled.
    plain = alice_api.post(url, {"inputs": {"topic": "tea"}}, format="json").json()
    assert plain["inputs_filled"] == {}


def test_suggested_inputs_of_another_workspace_is_404(client_for, other_user, brief):
    response = client_for(other_user).get(f"/api/v3/workflows/{brief.pk}/suggested-inputs")
    assert_error(response, 404)
