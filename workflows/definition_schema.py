"""The workflow definition format as a JSON Schema, built from the constants the parser checks
against (`workflows/definition.py`), so the two cannot drift apart.

It describes the structure: fields, types, ranges, patterns. What a schema cannot say is left
to the parser: unique keys, dependencies that exist and form no cycle, templates that parse and
read only upstream steps and known inputs, a prompt for generate and transform steps, a query
for retrieve steps, which parameters go with which kind of step. The schema uses only what
both JSON Schema 2020-12 and OpenAPI 3.0 accept (one type per field, no $ref), so the same dict
is served at `/api/v3/workflows/definition-schema` and embedded in the OpenAPI document.
"""

from workflows.definition import (
    BACKOFF_RANGE,
    DEFAULT_RETRY,
    INPUT_NAME_PATTERN,
    INPUT_TYPES,
    KEY_PATTERN,
    MAX_ATTEMPTS_RANGE,
    MAX_STEPS,
    PARAMETER_RULES,
    RETRIEVE_K_RANGE,
    SEARCH_MODES,
    TIMEOUT_RANGE,
)
from workflows.models import DEFAULT_TIMEOUT_SECONDS, StepKind


def _text(description: str) -> dict:
    return {"type": "string", "description": description}


def _model_parameters() -> dict:
    properties = {}
    for name, (kind, low, high) in PARAMETER_RULES.items():
        json_type = "integer" if kind is int else "number"
        properties[name] = {"type": json_type, "minimum": low, "maximum": high}
    return {
        "type": "object",
        "description": "Model parameters (the workflow's defaults, or one step's).",
        "properties": properties,
        "additionalProperties": False,
    }


def _retrieve_parameters() -> dict:
    return {
        "type": "object",
        "description": "A retrieve step's search: how many documents, how, and filters.",
        "properties": {
            "k": {
                "type": "integer",
                "minimum": RETRIEVE_K_RANGE[0],
                "maximum": RETRIEVE_K_RANGE[1],
            },
            "mode": {"type": "string", "enum": list(SEARCH_MODES)},
            "workflow": {"type": "integer", "minimum": 1},
            "step": {"type": "string", "pattern": KEY_PATTERN.pattern},
        },
        "additionalProperties": False,
    }


def _input() -> dict:
    return {
        "type": "object",
        "description": "A value the run is started with, read in templates as inputs.<name>.",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": INPUT_NAME_PATTERN.pattern},
            "type": {"type": "string", "enum": list(INPUT_TYPES), "default": "string"},
            "required": {"type": "boolean", "default": True},
            "default": {"description": "A value of the input's type."},
            "description": {"type": "string"},
        },
        "additionalProperties": False,
    }


def _step() -> dict:
    return {
        "type": "object",
        "description": (
            "One step: it writes one document. generate and transform steps need a prompt, "
            "retrieve steps a query."
        ),
        "required": ["key"],
        "properties": {
            "key": {
                "type": "string",
                "pattern": KEY_PATTERN.pattern,
                "description": "Unique in the workflow; templates read steps.<key>.output.",
            },
            "name": _text("A label for people."),
            "kind": {"type": "string", "enum": list(StepKind.values), "default": "generate"},
            "prompt": _text("A template: what the model is asked (or, for transform, the text)."),
            "query": _text("A template: a retrieve step's search."),
            "when": _text("A template: the step runs only if it renders to something true."),
            "depends_on": {
                "anyOf": [
                    {"type": "array", "items": {"type": "string", "pattern": KEY_PATTERN.pattern}},
                    {"type": "string", "pattern": KEY_PATTERN.pattern},
                ],
                "description": "Step keys (or one key); by default, the step before.",
            },
            "model": _text("provider/model; by default the workflow's default_model."),
            "parameters": {"anyOf": [_model_parameters(), _retrieve_parameters()]},
            "response_schema": {
                "type": "object",
                "description": "generate steps: a JSON Schema the reply must match.",
            },
            "retry": {
                "type": "object",
                "properties": {
                    "max_attempts": {
                        "type": "integer",
                        "minimum": MAX_ATTEMPTS_RANGE[0],
                        "maximum": MAX_ATTEMPTS_RANGE[1],
                        "default": DEFAULT_RETRY["max_attempts"],
                    },
                    "backoff_seconds": {
                        "type": "number",
                        "minimum": BACKOFF_RANGE[0],
                        "maximum": BACKOFF_RANGE[1],
                        "default": DEFAULT_RETRY["backoff_seconds"],
                    },
                },
                "additionalProperties": False,
            },
            "timeout": {
                "type": "integer",
                "minimum": TIMEOUT_RANGE[0],
                "maximum": TIMEOUT_RANGE[1],
                "default": DEFAULT_TIMEOUT_SECONDS,
                "description": "Seconds one attempt may take.",
            },
        },
        "additionalProperties": False,
    }


def definition_schema() -> dict:
    """The JSON Schema of a workflow definition (YAML or JSON)."""
    return {
        "title": "Docchain workflow definition",
        "type": "object",
        "required": ["name", "steps"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "default_model": _text("provider/model for steps that name none."),
            "parameters": _model_parameters(),
            "inputs": {"type": "array", "items": _input()},
            "steps": {"type": "array", "minItems": 1, "maxItems": MAX_STEPS, "items": _step()},
        },
        "additionalProperties": False,
    }
