"""Notification templates in the workflows' sandboxed template language (no loaders, no
libraries, no tags that read files; plain data only). HTML bodies autoescape, since model
output may flow into them; a variable the context lacks is an error that names it."""

import json
import re
from functools import lru_cache

from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import Lexer, Template, TokenType

from notifications.errors import InvalidNotification, TemplateInvalid, TemplateVariableMissing
from workflows.templating import FORBIDDEN_TAGS

_MISSING = "\x00missing:%s\x00"
_MISSING_FOUND = re.compile("\x00missing:(.*?)\x00")
ENGINE = Engine(dirs=[], app_dirs=False, autoescape=False, libraries={}, string_if_invalid=_MISSING)
MAX_CONTEXT_BYTES = 64 * 1024


@lru_cache(maxsize=512)
def compile_template(source: str) -> Template:
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            words = token.contents.split()
            if words and words[0] in FORBIDDEN_TAGS:
                raise TemplateInvalid(
                    f"The '{words[0]}' tag is not allowed in notification templates.",
                    details={"tag": words[0]},
                )
    try:
        return Template(source, engine=ENGINE)
    except TemplateSyntaxError as exc:
        raise TemplateInvalid(f"The template does not parse: {exc}") from exc


def check(source: str) -> None:
    """Raise TemplateInvalid unless `source` parses without forbidden tags."""
    compile_template(source)


def plain_context(context) -> dict:
    """The context as plain JSON data (no objects reach a template), within the size limit."""
    if not isinstance(context, dict):
        raise InvalidNotification("The context must be an object.", details={"context": "object"})
    try:
        text = json.dumps(context)
    except (TypeError, ValueError):
        raise InvalidNotification("The context must be plain JSON data.") from None
    if len(text) > MAX_CONTEXT_BYTES:
        raise InvalidNotification(f"The context is larger than {MAX_CONTEXT_BYTES} bytes.")
    return json.loads(text)


def render(source: str, context: dict, *, html: bool = False, field: str = "body") -> str:
    if not source:
        return ""
    output = compile_template(source).render(Context(context, autoescape=html))
    missing = sorted(set(_MISSING_FOUND.findall(output)))
    if missing:
        raise TemplateVariableMissing(
            f"The template's {field} uses {', '.join(missing)}, which the context does not have.",
            details={"field": field, "missing": missing},
        )
    return output
