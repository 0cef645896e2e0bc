"""The definition format: every bad definition is refused with the step and the problem."""

import pytest

from workflows.definition import load_text, parse_definition, validate_inputs
from workflows.errors import DefinitionError, InvalidInputs

LAUNCH_KIT = """
name: Launch kit
description: Outline, then a blog post and a tweet from it, then the kit.
default_model: offline/writer
inputs:
  - {name: product, type: string, required: true}
  - {name: tone, type: string, required: false, default: friendly}
steps:
  - key: outline
    kind: generate
    prompt: "Outline a launch for {{ inputs.product }} in a {{ inputs.tone }} tone."
  - key: blog
    kind: generate
    depends_on: [outline]
    model: offline/writer
    parameters: {temperature: 0.7, max_tokens: 800}
    retry: {max_attempts: 3, backoff_seconds: 2}
    timeout: 120
    prompt: "Write a blog post from this outline:\\n{{ steps.outline.output }}"
  - key: review
    kind: approval
    depends_on: [blog]
  - key: kit
    kind: transform
    depends_on: [review]
    prompt: "# {{ workflow.name }}\\n{{ steps.blog.output }}"
"""


def problems_of(data) -> dict:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(data)
    return caught.value.details


def chain(*steps) -> dict:
    return {"name": "t", "steps": list(steps)}


def test_the_issue_example_parses_and_round_trips():
    definition = parse_definition(load_text(LAUNCH_KIT))
    assert [s.key for s in definition.steps] == ["outline", "blog", "review", "kit"]
    assert definition.step("kit").upstream == ("review",)
    assert definition.ancestors("kit") == {"outline", "blog", "review"}
    canonical = definition.to_dict()
    assert parse_definition(canonical).to_dict() == canonical


def test_omitted_depends_on_means_the_step_before():
    definition = parse_definition(
        chain(
            {"key": "a", "kind": "transform", "prompt": "x"},
            {"key": "b", "kind": "transform", "prompt": "{{ steps.a.output }}"},
            {"key": "c", "kind": "transform", "prompt": "y", "depends_on": []},
        )
    )
    assert [s.upstream for s in definition.steps] == [(), ("a",), ()]
    assert "depends_on" not in definition.to_dict()["steps"][1]
    assert definition.to_dict()["steps"][2]["depends_on"] == []


def test_cycle_is_refused_naming_the_steps():
    details = problems_of(
        chain(
            {"key": "a", "kind": "transform", "prompt": "x", "depends_on": ["b"]},
            {"key": "b", "kind": "transform", "prompt": "x", "depends_on": ["a"]},
        )
    )
    (message,) = next(iter(details["steps"].values()))
    assert "cycle" in message and "a" in message and "b" in message


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ({"key": "b", "kind": "transform", "prompt": "x", "depends_on": ["nope"]}, "unknown step"),
        ({"key": "b", "kind": "transform", "prompt": "{% if %}"}, "does not parse"),
        ({"key": "b", "kind": "transform", "prompt": "{{ x|nofilter }}"}, "does not parse"),
        ({"key": "b", "kind": "transform", "prompt": "{% load static %}"}, "not allowed"),
        ({"key": "b", "kind": "transform", "prompt": "{% include 'x.html' %}"}, "not allowed"),
        ({"key": "b", "kind": "poem", "prompt": "x"}, "unknown kind"),
        ({"key": "b", "kind": "generate"}, "needs a prompt"),
        ({"key": "b", "kind": "transform", "prompt": "x", "colour": 1}, "unknown field"),
        ({"key": "B-1", "kind": "transform", "prompt": "x"}, "'key' must be"),
        ({"key": "b", "kind": "transform", "prompt": "x", "timeout": 0}, "timeout"),
        ({"key": "b", "prompt": "x", "parameters": {"temperature": 3}}, "temperature"),
        ({"key": "b", "prompt": "x", "parameters": {"colour": 1}}, "unknown parameter"),
        ({"key": "b", "prompt": "x", "retry": {"max_attempts": 0}}, "max_attempts"),
        ({"key": "b", "prompt": "x", "response_schema": {"type": "nope"}}, "valid JSON Schema"),
        ({"key": "b", "prompt": "{{ inputs.missing }}"}, "unknown input 'missing'"),
    ],
)
def test_bad_steps_name_the_step_and_the_problem(step, expected):
    details = problems_of(chain({"key": "a", "kind": "transform", "prompt": "x"}, step))
    label = step["key"] if step["key"] != "B-1" else "B-1"
    messages = details["steps"][label]
    assert any(expected in m for m in messages), messages


def test_reference_to_a_step_that_is_not_upstream():
    details = problems_of(
        chain(
            {"key": "a", "kind": "transform", "prompt": "{{ steps.b.output }}"},
            {"key": "b", "kind": "transform", "prompt": "x", "depends_on": []},
        )
    )
    assert "not upstream" in details["steps"]["a"][0]


def test_duplicate_key_and_bad_input_default():
    details = problems_of(
        {
            "name": "t",
            "inputs": [{"name": "n", "type": "integer", "default": "ten"}],
            "steps": [
                {"key": "a", "kind": "transform", "prompt": "x"},
                {"key": "a", "kind": "transform", "prompt": "y"},
            ],
        }
    )
    assert details["steps"]["a"] == ["duplicate key"]
    assert "not of type integer" in details["inputs"]["n"][0]


def test_error_message_names_the_first_problem():
    with pytest.raises(DefinitionError) as caught:
        parse_definition(chain({"key": "a", "kind": "poem"}))
    assert caught.value.message.startswith("Step 'a': unknown kind 'poem'")


def test_not_a_mapping_and_bad_yaml():
    with pytest.raises(DefinitionError):
        parse_definition(["a"])
    with pytest.raises(DefinitionError):
        load_text("name: [unclosed")
    assert "steps" in problems_of({"name": "x", "steps": []})


def test_validate_inputs_applies_defaults_and_names_bad_ones():
    definition = parse_definition(load_text(LAUNCH_KIT))
    assert validate_inputs(definition, {"product": "Widget"}) == {
        "product": "Widget",
        "tone": "friendly",
    }
    with pytest.raises(InvalidInputs) as caught:
        validate_inputs(definition, {"tone": 3, "extra": 1})
    problems = caught.value.details["inputs"]
    assert problems["product"] == ["required"]
    assert problems["tone"] == ["must be of type string"]
    assert problems["extra"] == ["unknown input"]
