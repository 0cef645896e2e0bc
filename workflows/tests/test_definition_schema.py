"""The definition format's JSON Schema (workflows/definition_schema.py) agrees with the parser
it is built beside: what the parser accepts the schema accepts, and each structural mistake
both refuse. It is served at /api/v3/workflows/definition-schema and is the import body's
schema in the OpenAPI document."""

from copy import deepcopy
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from workflows.definition import parse_definition
from workflows.definition_schema import definition_schema
from workflows.errors import DefinitionError

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
GOOD = {
    "name": "Brief",
    "inputs": [{"name": "topic", "type": "string", "default": "tests"}],
    "parameters": {"temperature": 0.2},
    "steps": [
        {"key": "find", "kind": "retrieve", "query": "{{ inputs.topic }}", "parameters": {"k": 3}},
        {
            "key": "draft",
            "kind": "generate",
            "prompt": "Write about {{ inputs.topic }}",
            "depends_on": "find",
            "retry": {"max_attempts": 2, "backoff_seconds": 0.5},
            "timeout": 60,
        },
    ],
}


def schema_errors(definition) -> list[str]:
    validator = Draft202012Validator(definition_schema())
    return [error.message for error in validator.iter_errors(definition)]


def test_the_schema_is_a_valid_json_schema():
    Draft202012Validator.check_schema(definition_schema())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_every_example_passes_both(path):
    definition = yaml.safe_load(path.read_text())
    parse_definition(definition)
    assert schema_errors(definition) == []


def test_the_canonical_form_passes_the_schema():
    assert schema_errors(GOOD) == []
    assert schema_errors(parse_definition(GOOD).to_dict()) == []


def _with(change):
    definition = deepcopy(GOOD)
    change(definition)
    return definition


@pytest.mark.parametrize(
    "bad",
    [
        _with(lambda d: d.pop("name")),
        _with(lambda d: d.update(steps=[])),
        _with(lambda d: d.update(colour="blue")),
        _with(lambda d: d["steps"][1].update(timeout=0)),
        _with(lambda d: d["steps"][1].update(timeout=3601)),
        _with(lambda d: d["steps"][1].update(kind="dance")),
        _with(lambda d: d["steps"][1].update(key="Draft")),
        _with(lambda d: d["steps"][1].update(retry={"max_attempts": 11})),
        _with(lambda d: d["steps"][1].update(retry={"forever": True})),
        _with(lambda d: d["steps"][0]["parameters"].update(k=51)),
        _with(lambda d: d["parameters"].update(temperature=3)),
        _with(lambda d: d["inputs"][0].update(type="date")),
        _with(lambda d: d["inputs"][0].update(name="1st")),
        _with(lambda d: d.update(steps=[{"key": f"s{i}", "kind": "analyze"} for i in range(101)])),
    ],
)
def test_each_structural_mistake_is_refused_by_both(bad):
    with pytest.raises(DefinitionError):
        parse_definition(bad)
    assert schema_errors(bad)


def test_it_is_served_to_anyone_and_is_the_import_bodys_schema(client):
    response = client.get("/api/v3/workflows/definition-schema")
    assert response.status_code == 200
    assert response.json() == definition_schema()
    openapi = client.get("/openapi.json").json()
    body = openapi["components"]["schemas"]["ImportRequest"]["properties"]["definition"]
    assert definition_schema() in body["oneOf"]
