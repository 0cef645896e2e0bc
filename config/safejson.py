"""JSON and YAML values nested no deeper than MAX_JSON_DEPTH (see config/api/parsers.py), and
values made JSON-safe."""

import json
from typing import Any

import orjson
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder


class TooDeep(ValueError):
    """A parsed value nests deeper than allowed."""


def check_depth(value: Any, limit: int | None = None) -> Any:
    """Return `value` if its containers nest at most `limit` deep, else raise TooDeep.
    Iterative, so the check itself cannot overflow the stack."""
    limit = settings.MAX_JSON_DEPTH if limit is None else limit
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > limit:
            raise TooDeep(f"The document nests deeper than {limit} levels.")
        stack.extend((child, depth + 1) for child in children)
    return value


def loads(text: str | bytes) -> Any:
    """json.loads with a depth limit: ValueError (TooDeep, JSONDecodeError) for bad input."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep(f"The document nests deeper than {settings.MAX_JSON_DEPTH} levels.") from None
    return check_depth(value)


_django_json = DjangoJSONEncoder()
_JSON_SAFE_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def json_safe(value: Any) -> Any:
    """`value` as it reads back from JSON: dates, Decimals and UUIDs become strings, tuples
    lists, keys strings. orjson, with Django's encoder for dates and times (so they read as
    Django writes them: milliseconds, "Z") and for what orjson does not know (Decimals, lazy
    strings): several times faster than a json round trip, on paths run per event and per
    task. What orjson refuses (an integer beyond 64 bits) goes through json instead, where an
    unknown type is a TypeError as it always was."""
    try:
        encoded = orjson.dumps(value, default=_django_json.default, option=_JSON_SAFE_OPTIONS)
    except orjson.JSONEncodeError:
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    return orjson.loads(encoded)
