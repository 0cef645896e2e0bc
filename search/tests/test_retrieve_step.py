"""The `retrieve` step kind: validated like every kind, and a retrieve -> generate workflow
whose documents carry the retrieved ones in their lineage, run with `runworkflow --inline`."""

import io

import pytest
import yaml
from django.core.management import call_command

from accounts.services import personal_workspace
from search.models import DocumentChunk
from search.tests.labelled import DOCUMENTS
from workflows.definition import parse_definition
from workflows.errors import DefinitionError
from workflows.models import Document, Run, RunStatus

GROUNDED = {
    "name": "Grounded guide",
    "inputs": [{"name": "topic", "type": "string"}],
    "steps": [
        {
            "key": "context",
            "name": "What we already wrote",
            "kind": "retrieve",
            "query": "{{ inputs.topic }}",
            "parameters": {"k": 3, "mode": "hybrid"},
        },
        {
            "key": "guide",
            "kind": "generate",
            "prompt": "Notes:\n{{ steps.context.output }}\n\nWrite a guide to {{ inputs.topic }}.",
        },
    ],
}


def step_with(**fields) -> dict:
    return {"name": "x", "steps": [{"key": "r", "kind": "retrieve", **fields}]}


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({}, "a retrieve step needs a query"),
        ({"query": "{% if %}"}, "the query template does not parse"),
        ({"query": "{{ inputs.nope }}"}, "the query refers to unknown input 'nope'"),
        ({"query": "{{ steps.later.output }}"}, "refers to step 'later', which is not upstream"),
        ({"query": "q", "parameters": {"k": 0}}, "'k' must be a whole number from 1 to 50"),
        ({"query": "q", "parameters": {"mode": "fuzzy"}}, "'mode' must be one of"),
        ({"query": "q", "parameters": {"temperature": 1}}, "unknown parameter 'temperature'"),
        ({"query": "q", "parameters": {"workflow": "x"}}, "'workflow' must be a workflow id"),
    ],
)
def test_retrieve_steps_are_validated(fields, problem):
    with pytest.raises(DefinitionError) as caught:
        parse_definition(step_with(**fields))
    assert any(problem in message for message in caught.value.details["steps"]["r"])


def test_only_retrieve_steps_take_a_query():
    definition = {
        "name": "x",
        "steps": [{"key": "g", "kind": "generate", "prompt": "p", "query": "q"}],
    }
    with pytest.raises(DefinitionError) as caught:
        parse_definition(definition)
    assert caught.value.details["steps"]["g"] == ["only retrieve steps take a query"]


def test_a_retrieve_step_round_trips_through_the_definition():
    parsed = parse_definition(GROUNDED)
    assert parse_definition(parsed.to_dict()).to_dict() == parsed.to_dict()
    assert parsed.step("context").query == "{{ inputs.topic }}"


@pytest.mark.django_db(transaction=True)
def test_retrieve_then_generate_inline_grounds_the_guide_in_earlier_documents(
    make_user, write_documents, tmp_path, settings
):
    settings.SEARCH_INDEX_ON_RUN_FINISH = True
    admin = make_user("admin")
    workspace = personal_workspace(admin)
    library = write_documents(admin, workspace, DOCUMENTS)
    path = tmp_path / "grounded.yaml"
    path.write_text(yaml.safe_dump(GROUNDED))

    out = io.StringIO()
    call_command("runworkflow", str(path), "--input", "topic=set up MFA", "--inline", stdout=out)

    run = Run.objects.latest("id")
    assert run.status == RunStatus.SUCCEEDED, out.getvalue()
    context = Document.objects.get(run=run, step_key="context")
    guide = Document.objects.get(run=run, step_key="guide")
    retrieved = [item["id"] for item in context.data["documents"]]
    assert len(retrieved) == 3 and retrieved[0] == library["mfa"].pk
    assert set(context.parents.values_list("pk", flat=True)) == set(retrieved)
    assert list(guide.parents.values_list("pk", flat=True)) == [context.pk]
    assert "Two-factor authentication for every account" in context.content
    # The retrieved text reached the generate step's prompt.
    assert "Two-factor authentication" in run.step_runs.get(key="guide").rendered_prompt
    # Lineage shows what the guide was built from, across runs.
    from accounts.scoping import Actor
    from workflows.selectors import lineage

    ancestors = {doc.pk for doc in lineage(Actor(admin), guide).ancestors}
    assert set(retrieved) <= ancestors
    # The run's own documents were indexed when it finished (in-process: --inline).
    indexed = DocumentChunk.objects.filter(document__run=run).values_list("document_id", flat=True)
    assert set(indexed) == {context.pk, guide.pk}


@pytest.mark.django_db(transaction=True)
def test_a_retrieve_step_only_searches_its_workspace_and_filters(
    make_user, write_documents, tmp_path
):
    admin = make_user("admin")
    other = make_user("other")
    write_documents(other, personal_workspace(other), DOCUMENTS)
    mine = write_documents(
        admin, personal_workspace(admin), {"mfa": ("Admin keys", "Hardware keys for admins.")}
    )
    definition = {
        **GROUNDED,
        "steps": [
            {**GROUNDED["steps"][0], "parameters": {"k": 5, "step": "mfa", "mode": "semantic"}}
        ],
    }
    path = tmp_path / "only.yaml"
    path.write_text(yaml.safe_dump(definition))
    call_command(
        "runworkflow", str(path), "--input", "topic=two-factor", "--inline", stdout=io.StringIO()
    )
    context = Document.objects.get(run=Run.objects.latest("id"), step_key="context")
    assert [item["id"] for item in context.data["documents"]] == [mine["mfa"].pk]
