"""data_processing: apply a template or a named operation to a list of JSON records.

    {"records": [{"name": "ada", "bio": "  ..."}],
     "operation": "template", "template": "{{ name|title }}: {{ bio|truncatewords:5 }}",
     "output_field": "summary"}

Operations: copy, template (Django template language, the record is the context), select
(`fields`), rename (`mapping`), uppercase / lowercase / strip / word_count (on `fields`,
default every string field), drop_empty. Returns the processed records.
"""

from django.template import Context, Engine, TemplateSyntaxError
from django.template.defaulttags import DebugNode

from tasks.registry import TaskContext, task_type

OPERATIONS = (
    "copy",
    "template",
    "select",
    "rename",
    "uppercase",
    "lowercase",
    "strip",
    "word_count",
    "drop_empty",
)

# A bare engine: no loaders (so no {% include %} of files), no extra libraries.
_engine = Engine(dirs=[], app_dirs=False, libraries={}, autoescape=False)


def _compile(source: str):
    try:
        template = _engine.from_string(source)
    except TemplateSyntaxError as exc:
        raise ValueError(f"template: {exc}") from exc
    if template.nodelist.get_nodes_by_type(DebugNode):
        raise ValueError("template: the {% debug %} tag is not allowed")
    return template


def _validate(payload: dict) -> None:
    operation = payload.get("operation", "template" if "template" in payload else "copy")
    if operation == "template":
        if "template" not in payload:
            raise ValueError("template: required by the template operation")
        _compile(payload["template"])
    if operation == "select" and not payload.get("fields"):
        raise ValueError("fields: required by the select operation")
    if operation == "rename" and not payload.get("mapping"):
        raise ValueError("mapping: required by the rename operation")


def _string_fields(record: dict, fields: list[str] | None) -> list[str]:
    if fields:
        return [f for f in fields if isinstance(record.get(f), str)]
    return [k for k, v in record.items() if isinstance(v, str)]


def _apply(operation: str, record: dict, payload: dict, template) -> dict:
    fields = payload.get("fields")
    out = dict(record)
    if operation == "template":
        out[payload.get("output_field", "output")] = template.render(Context(record))
    elif operation == "select":
        out = {f: record[f] for f in fields if f in record}
    elif operation == "rename":
        mapping = payload["mapping"]
        out = {mapping.get(k, k): v for k, v in record.items()}
    elif operation in ("uppercase", "lowercase", "strip"):
        convert = {"uppercase": str.upper, "lowercase": str.lower, "strip": str.strip}[operation]
        for f in _string_fields(record, fields):
            out[f] = convert(record[f])
    elif operation == "word_count":
        for f in _string_fields(record, fields):
            out[f"{f}_words"] = len(record[f].split())
    elif operation == "drop_empty":
        out = {k: v for k, v in record.items() if v not in (None, "", [], {})}
    return out


@task_type(
    "data_processing",
    schema={
        "type": "object",
        "properties": {
            "records": {"type": "array", "items": {"type": "object"}, "maxItems": 10000},
            "operation": {"enum": list(OPERATIONS)},
            "template": {"type": "string", "maxLength": 10000},
            "output_field": {"type": "string", "minLength": 1, "maxLength": 100},
            "fields": {"type": "array", "items": {"type": "string"}},
            "mapping": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "additionalProperties": False,
    },
    description=(
        "Applies a template or a named operation (copy, template, select, rename, uppercase, "
        "lowercase, strip, word_count, drop_empty) to each of `records`, reporting progress "
        "per record; returns the processed records."
    ),
    validate=_validate,
    time_limit=600,
)
def data_processing(ctx: TaskContext, payload: dict) -> dict:
    records = payload.get("records", [])
    operation = payload.get("operation", "template" if "template" in payload else "copy")
    template = _compile(payload["template"]) if operation == "template" else None
    total = len(records)
    check_every = max(1, total // 100)
    processed = []
    for index, record in enumerate(records, start=1):
        if index % check_every == 0:
            ctx.check_cancelled()
        processed.append(_apply(operation, record, payload, template))
        ctx.progress(100 * index // total, f"record {index} of {total}")
    return {"operation": operation, "count": total, "records": processed}
