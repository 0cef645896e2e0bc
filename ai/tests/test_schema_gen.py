"""The offline model's JSON generator: one valid instance per schema, deterministically."""

import jsonschema
import pytest

from ai import schema_gen

PHRASES = ["solar panels", "small farms", "battery storage"]
SENTENCES = ["Solar panels cut diesel costs for irrigation pumps."]

SCHEMAS = [
    {"type": "string"},
    {"type": "string", "minLength": 40, "maxLength": 60},
    {"type": "string", "maxLength": 3},
    {"type": "string", "format": "email"},
    {"type": "string", "format": "date-time"},
    {"type": "string", "pattern": "^[A-Z]+$"},
    {"type": "integer", "minimum": 10, "maximum": 12},
    {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 2},
    {"type": "integer", "multipleOf": 7, "minimum": 20},
    {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    {"type": "number", "maximum": -5},
    {"type": "boolean"},
    {"type": "null"},
    {"type": ["null", "string"]},
    {"enum": ["red", "green", 3]},
    {"const": {"fixed": True}},
    {"type": "array", "items": {"type": "integer"}, "minItems": 5, "uniqueItems": True},
    {"type": "array", "items": {"enum": ["a", "b"]}, "uniqueItems": True, "maxItems": 2},
    {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
    {"type": "array", "maxItems": 0},
    {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "summary": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        },
        "required": ["title", "summary", "tags", "extra"],
    },
    {"type": "object", "minProperties": 3, "additionalProperties": {"type": "integer"}},
    {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"properties": {"b": {"type": "string"}}, "required": ["b"]},
        ]
    },
    {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 5}]},
    {"oneOf": [{"type": "string", "maxLength": 2}, {"type": "integer"}]},
    {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "child": {"$ref": "#/$defs/node"}},
                "required": ["name"],
            }
        },
        "$ref": "#/$defs/node",
    },
    {"definitions": {"n": {"type": "integer", "minimum": 1}}, "items": {"$ref": "#/definitions/n"}},
    True,
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_generated_value_is_valid(schema):
    value = schema_gen.instance_for(schema, title="Solar", phrases=PHRASES, sentences=SENTENCES)
    jsonschema.validate(value, schema if schema is not True else {})
    again = schema_gen.instance_for(schema, title="Solar", phrases=PHRASES, sentences=SENTENCES)
    assert value == again


def test_strings_come_from_the_prompt():
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "keywords": {"type": "array"}},
    }
    value = schema_gen.instance_for(schema, title="Solar", phrases=PHRASES, sentences=SENTENCES)
    assert value["title"] == "Solar"
    assert set(value["keywords"]) <= set(PHRASES)
