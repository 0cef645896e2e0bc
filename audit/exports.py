"""The audit feed as CSV, JSON Lines or CEF (ArcSight Common Event Format, for SIEMs), one
line at a time: a year of rows is streamed, never held in memory."""

import csv
import io
import json
from collections.abc import Iterable, Iterator

from django.core.serializers.json import DjangoJSONEncoder

from audit.events import Severity
from audit.selectors import FEED_FIELDS, as_feed_row

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "cef": "text/plain; charset=utf-8",
}
EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "cef": "cef"}
CEF_SEVERITY = {Severity.INFO: 3, Severity.WARNING: 5, Severity.HIGH: 8, Severity.CRITICAL: 10}
PRODUCT = "CEF:0|Docchain|Docchain|3.0"


def _json(value) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True, ensure_ascii=False)


def csv_lines(rows: Iterable[tuple]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(FEED_FIELDS)
    for values in rows:
        row = as_feed_row(values)
        row["timestamp"] = row["timestamp"].isoformat()
        row["changes"] = _json(row["changes"]) if row["changes"] is not None else ""
        yield line([row[field] if row[field] is not None else "" for field in FEED_FIELDS])


def jsonl_lines(rows: Iterable[tuple]) -> Iterator[str]:
    for values in rows:
        yield _json(as_feed_row(values)) + "\n"


def _cef_header(value) -> str:
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _cef_value(value) -> str:
    text = str(value).replace("\\", "\\\\").replace("=", "\\=")
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def cef_line(row: dict) -> str:
    name = row["action"] if row["source"] == "security" else f"{row['action']} {row['model']}"
    extension = {
        "rt": int(row["timestamp"].timestamp() * 1000),
        "externalId": f"{row['source']}-{row['id']}",
        "act": row["action"],
        "suid": row["actor_id"] or "",
        "suser": row["username"] or "",
        "src": row["ip"] or "",
        "cs1Label": "workspace",
        "cs1": row["workspace_id"] or "",
        "cs2Label": "object",
        "cs2": f"{row['model']}:{row['object_id']}" if row["model"] else "",
        "cs3Label": "hash",
        "cs3": row["hash"],
        "cnt": row["count"],
        "msg": row["object_repr"] or "",
    }
    fields = " ".join(f"{key}={_cef_value(value)}" for key, value in extension.items())
    header = "|".join(
        [
            PRODUCT,
            _cef_header(row["action"]),
            _cef_header(name),
            str(CEF_SEVERITY.get(row["severity"], 3)),
        ]
    )
    return f"{header}|{fields}\n"


def cef_lines(rows: Iterable[tuple]) -> Iterator[str]:
    for values in rows:
        yield cef_line(as_feed_row(values))


WRITERS = {"csv": csv_lines, "jsonl": jsonl_lines, "cef": cef_lines}
