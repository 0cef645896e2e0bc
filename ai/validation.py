"""Checks on a model request before anything is sent, and on a structured reply after."""

import json
from typing import Any

import jsonschema
from django.conf import settings

from ai import errors

ROLES = {"system", "user", "assistant", "tool"}
TEMPERATURE_RANGE = (0.0, 2.0)


def messages_for(prompt: str | None, messages: list[dict] | None, system: str | None) -> list[dict]:
    out: list[dict] = []
    if system:
        out.append({"role": "system", "content": str(system)})
    if messages is not None:
        if not isinstance(messages, list):
            raise errors.InvalidInput("messages must be a list.", code="invalid_messages")
        for index, message in enumerate(messages):
            if (
                not isinstance(message, dict)
                or message.get("role") not in ROLES
                or not isinstance(message.get("content"), str | list)
            ):
                raise errors.InvalidInput(
                    "Each message needs a role (system, user, assistant, tool) and content.",
                    code="invalid_messages",
                    details={"index": index},
                )
            out.append({"role": message["role"], "content": message["content"]})
    if prompt is not None:
        if not isinstance(prompt, str):
            raise errors.InvalidInput("prompt must be text.", code="invalid_prompt")
        out.append({"role": "user", "content": prompt})
    if not any(_has_text(m["content"]) for m in out if m["role"] != "system"):
        raise errors.InvalidInput("The prompt is empty.", code="empty_prompt")
    size = sum(len(json.dumps(m["content"])) for m in out)
    if size > settings.AI_MAX_PROMPT_CHARS:
        raise errors.InvalidInput(
            f"The prompt is too long ({size} characters; the limit is "
            f"{settings.AI_MAX_PROMPT_CHARS}).",
            code="prompt_too_long",
            details={"length": size, "limit": settings.AI_MAX_PROMPT_CHARS},
        )
    return out


def _has_text(content: Any) -> bool:
    if isinstance(content, str):
        return bool(content.strip())
    return bool(content)


def check_schema(schema: Any) -> None:
    """Raise InvalidSchema unless `schema` is a valid JSON Schema object."""
    if not isinstance(schema, dict):
        raise errors.InvalidSchema("response_schema must be a JSON object (a JSON Schema).")
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise errors.InvalidSchema(
            f"response_schema is not a valid JSON Schema: {exc.message}",
            details={"path": "/".join(str(p) for p in exc.absolute_path)},
        ) from exc


def parse_structured(content: str, schema: dict) -> Any:
    """The JSON in a reply, validated against `schema`; SchemaMismatch if it is not there."""
    text = content.strip()
    if text.startswith("```"):  # models like to fence JSON
        text = text.strip("`")
        text = text[text.find("\n") + 1 :] if "\n" in text else text
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise errors.SchemaMismatch(
            "The model's reply is not JSON.", details={"reason": str(exc)[:200]}
        ) from exc
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    problem = jsonschema.exceptions.best_match(validator(schema).iter_errors(data))
    if problem is not None:
        raise errors.SchemaMismatch(
            f"The model's reply does not match the schema: {problem.message}",
            details={"path": "/".join(str(p) for p in problem.absolute_path)},
        )
    return data
