import pytest

from workflows.templating import (
    TemplateProblem,
    build_context,
    compile_template,
    is_truthy,
    references,
    render,
)


def test_render_plain_data_without_escaping():
    context = build_context(
        workflow_name="Kit",
        inputs={"product": "<Widget> & co"},
        steps={"outline": {"output": "1. Intro", "title": "Outline", "data": None}},
    )
    text = render(
        "# {{ workflow.name }}: {{ inputs.product }}\n{{ steps.outline.output }}", context
    )
    assert text == "# Kit: <Widget> & co\n1. Intro"


def test_references_finds_steps_and_inputs_in_variables_and_tags():
    steps, inputs = references(
        "{% if steps.review.output %}{{ steps.blog.output|upper }}{% endif %} {{ inputs.tone }}"
    )
    assert steps == {"review", "blog"} and inputs == {"tone"}


def test_file_reading_tags_are_refused():
    for source in ("{% include 'admin/base.html' %}", "{% extends 'x' %}", "{% load i18n %}"):
        with pytest.raises(TemplateProblem):
            compile_template(source)


@pytest.mark.parametrize(
    ("text", "truthy"),
    [
        ("", False),
        (" False ", False),
        ("no", False),
        ("0", False),
        ("yes", True),
        ("anything", True),
    ],
)
def test_when_truthiness(text, truthy):
    assert is_truthy(text) is truthy
