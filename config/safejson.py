"""JSON and YAML values nested no deeper than MAX_JSON_DEPTH (see config/api/parsers.py)."""

import json
from typing import Any

from django.conf import settings


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
