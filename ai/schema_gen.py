"""Build one JSON value that satisfies a JSON Schema, deterministically and in microseconds, for
the offline model's structured output.

Why not a library: jsf (JSON Schema Faker) and hypothesis-jsonschema both generate random data
(faker / Hypothesis strategies), are slower than the whole offline call budget, and know nothing
about the prompt. This covers the keywords structured-output schemas use: type (and type lists),
properties/required/additionalProperties/min-maxProperties, items/prefixItems/min-maxItems/
uniqueItems, enum/const, string length and common formats, numeric bounds and multipleOf,
allOf/anyOf/oneOf, and local $ref/$defs. `pattern` is best effort; the gateway validates every
reply with jsonschema anyway, so an unsatisfied schema is a SchemaMismatch, never bad data.
"""

import math
import re
from typing import Any

MAX_DEPTH = 12
OPTIONAL_DEPTH = 4

_FORMATS = {
    "date": "2026-01-01",
    "date-time": "2026-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "offline@example.com",
    "idn-email": "offline@example.com",
    "uri": "https://example.com/offline",
    "iri": "https://example.com/offline",
    "uri-reference": "/offline",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "duration": "PT1M",
}
_PATTERN_GUESSES = ("a", "A", "0", "abc", "ABC", "a1", "A1", "aaa-000", "offline", "")
_TITLE_NAMES = {"title", "name", "heading", "headline", "subject", "label"}
_TEXT_NAMES = {"summary", "description", "abstract", "body", "content", "text", "answer"}


class _Context:
    def __init__(self, root: Any, title: str, phrases: list[str], sentences: list[str]):
        self.root = root
        self.title = title
        self.phrases = phrases
        self.sentences = sentences
        self.counter = 0

    def phrase(self) -> str:
        value = self.phrases[self.counter % len(self.phrases)]
        self.counter += 1
        return value


def instance_for(
    schema: Any, *, title: str = "Offline", phrases: list[str], sentences: list[str]
) -> Any:
    ctx = _Context(schema, title, phrases or ["offline value"], sentences or ["Offline text."])
    return _value(schema, ctx, name="", depth=0, index=0)


def _resolve(schema: Any, ctx: _Context) -> Any:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < MAX_DEPTH:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#"):
            return {k: v for k, v in schema.items() if k != "$ref"}
        target: Any = ctx.root
        for part in [p for p in ref[1:].split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            target = target[int(part)] if isinstance(target, list) else target.get(part, {})
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **rest} if isinstance(target, dict) else target
        seen += 1
    return schema


def _merge_all_of(schema: dict) -> dict:
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema.get("allOf", []):
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = sorted({*merged.get("required", []), *value})
            else:
                merged.setdefault(key, value)
    return merged


def _type_of(schema: dict) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        return non_null[0] if non_null else "null"
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema or "minItems" in schema:
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "multipleOf")):
        return "number"
    return "string"


def _value(schema: Any, ctx: _Context, *, name: str, depth: int, index: int) -> Any:
    if schema is True or schema == {}:
        return _string({}, ctx, name, index)
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    schema = _resolve(schema, ctx)
    if not isinstance(schema, dict):
        return _value(schema, ctx, name=name, depth=depth + 1, index=index)
    if "allOf" in schema:
        schema = _merge_all_of(schema)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][index % len(schema["enum"])]
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            base = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf")}
            options = [o for o in schema[key] if isinstance(o, dict)]
            option = next((o for o in options if o.get("type") != "null"), options[0])
            return _value({**base, **option}, ctx, name=name, depth=depth + 1, index=index)
    kind = _type_of(schema)
    if kind == "object":
        return _object(schema, ctx, depth)
    if kind == "array":
        return _array(schema, ctx, name, depth)
    if kind == "integer":
        return int(_number(schema, integer=True, index=index))
    if kind == "number":
        return _number(schema, integer=False, index=index)
    if kind == "boolean":
        return index % 2 == 0
    if kind == "null":
        return None
    return _string(schema, ctx, name, index)


def _object(schema: dict, ctx: _Context, depth: int) -> dict:
    out: dict[str, Any] = {}
    properties = schema.get("properties") or {}
    required = set(schema.get("required", []))
    for key, sub in properties.items():
        # Optional properties only near the top: a recursive schema must bottom out.
        if key in required or depth < OPTIONAL_DEPTH:
            out[key] = _value(sub, ctx, name=key, depth=depth + 1, index=len(out))
    for key in schema.get("required", []):
        if key not in out:
            out[key] = _value(True, ctx, name=key, depth=depth + 1, index=len(out))
    extra = schema.get("additionalProperties", True)
    n = 1
    while len(out) < schema.get("minProperties", 0) and extra is not False:
        out[f"extra_{n}"] = _value(
            extra if isinstance(extra, dict) else True, ctx, name="", depth=depth + 1, index=n
        )
        n += 1
    return out


def _array(schema: dict, ctx: _Context, name: str, depth: int) -> list:
    prefix = schema.get("prefixItems") or []
    items = schema.get("items", True)
    if isinstance(items, list):  # draft 4-7 tuple form
        prefix, items = items, schema.get("additionalItems", True)
    low = schema.get("minItems", 0)
    high = schema.get("maxItems", max(low, 3))
    count = max(low, min(high, 3), len(prefix) if items is False else 0)
    count = min(count, high)
    unique = schema.get("uniqueItems", False)
    out: list = []
    for i in range(count * 4 if unique else count):
        if len(out) >= count:
            break
        sub = prefix[len(out)] if len(out) < len(prefix) else items
        if sub is False:
            break
        value = _value(sub, ctx, name=name, depth=depth + 1, index=i)
        if unique and value in out:
            continue
        out.append(value)
    return out


def _number(schema: dict, *, integer: bool, index: int) -> float | int:
    low, high = schema.get("minimum"), schema.get("maximum")
    ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(ex_low, bool):  # draft 4: a flag on minimum
        low, ex_low = (None, low) if ex_low else (low, None)
    if isinstance(ex_high, bool):
        high, ex_high = (None, high) if ex_high else (high, None)
    floor_ = max((v for v in (low, ex_low) if v is not None), default=None)
    ceil_ = min((v for v in (high, ex_high) if v is not None), default=None)

    def inside(v: float) -> bool:
        return (
            (low is None or v >= low)
            and (high is None or v <= high)
            and (ex_low is None or v > ex_low)
            and (ex_high is None or v < ex_high)
        )

    step = schema.get("multipleOf")
    if step:
        start = math.ceil(floor_ / step) if floor_ is not None else index + 1
        if floor_ is None and ceil_ is not None:
            start = min(start, math.floor(ceil_ / step))
        candidates = [(start + k) * step for k in range(3)] + [(start - 1) * step]
    elif floor_ is not None and ceil_ is not None:
        candidates = [(floor_ + ceil_) / 2]
    elif floor_ is not None:
        candidates = [floor_, floor_ + 1]
    elif ceil_ is not None:
        candidates = [ceil_, ceil_ - 1]
    else:
        candidates = [3 + index]
    for value in candidates:
        options = [math.ceil(value), math.floor(value)] if integer else [value]
        for option in options:
            if inside(option):
                return int(option) if integer else option
    return int(candidates[0]) if integer else candidates[0]


def _string(schema: dict, ctx: _Context, name: str, index: int) -> str:
    fmt = schema.get("format")
    if fmt in _FORMATS:
        value = _FORMATS[fmt]
    elif name.lower() in _TITLE_NAMES:
        value = ctx.title
    elif name.lower() in _TEXT_NAMES:
        value = ctx.sentences[index % len(ctx.sentences)]
    else:
        value = ctx.phrase()
    pattern = schema.get("pattern")
    if pattern:
        regex = re.compile(pattern)
        for candidate in (value, *_PATTERN_GUESSES):
            if regex.search(candidate):
                value = candidate
                break
    low = schema.get("minLength", 0)
    high = schema.get("maxLength")
    while len(value) < low:
        value = f"{value} {ctx.phrase()}".strip()
        if not value:
            value = "x" * low
    if high is not None and len(value) > high:
        value = value[:high]
    return value
