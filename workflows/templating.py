"""Prompt templates: the Django template language over plain data only.

The context is `inputs.<name>`, `steps.<key>.output` / `.title` / `.data`, `workflow.name`.
Templates run in their own Engine with no loaders, no libraries and no tags that read files,
so a workflow definition can never reach the server's templates or code.
"""

import re
from functools import lru_cache

from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import Lexer, Template, TokenType

ENGINE = Engine(dirs=[], app_dirs=False, autoescape=False, libraries={}, string_if_invalid="")

FORBIDDEN_TAGS = frozenset({"load", "include", "extends", "ssi", "debug", "templatetag"})
_STEP_REFERENCE = re.compile(r"\bsteps\.([A-Za-z0-9_]+)")
_INPUT_REFERENCE = re.compile(r"\binputs\.([A-Za-z0-9_]+)")
FALSY_RESULTS = frozenset({"", "false", "no", "0"})


class TemplateProblem(ValueError):
    """A template that does not parse or uses a forbidden tag; the message says which."""


@lru_cache(maxsize=512)
def compile_template(source: str) -> Template:
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            tag = token.contents.split()[0] if token.contents.split() else ""
            if tag in FORBIDDEN_TAGS:
                raise TemplateProblem(f"the '{tag}' tag is not allowed in workflow templates")
    try:
        return Template(source, engine=ENGINE)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(str(exc)) from exc


def references(source: str) -> tuple[set[str], set[str]]:
    """(step keys, input names) that the template's tags and variables mention."""
    steps: set[str] = set()
    inputs: set[str] = set()
    for token in Lexer(source).tokenize():
        if token.token_type in (TokenType.VAR, TokenType.BLOCK):
            steps.update(_STEP_REFERENCE.findall(token.contents))
            inputs.update(_INPUT_REFERENCE.findall(token.contents))
    return steps, inputs


def build_context(*, workflow_name: str, inputs: dict, steps: dict[str, dict]) -> dict:
    """`steps` maps a key to {"output", "title", "data"} of that step's document."""
    return {"workflow": {"name": workflow_name}, "inputs": dict(inputs), "steps": steps}


def render(source: str, context: dict) -> str:
    return compile_template(source).render(Context(context, autoescape=False))


def is_truthy(rendered: str) -> bool:
    """How `when:` reads a rendered template: empty, false, no and 0 mean "skip"."""
    return rendered.strip().lower() not in FALSY_RESULTS
