"""What a client sends: one JSON object per text frame, `{"type": ..., ...}`. Anything else
is an InvalidMessage (an `error` event; the connection stays)."""

from typing import Any

from config.safejson import TooDeep, loads
from realtime import errors


def parse(text_data: str | None, bytes_data: bytes | None, *, max_bytes: int) -> dict[str, Any]:
    if text_data is None:
        raise errors.InvalidMessage("Send JSON text frames, not binary ones.")
    size = len(text_data.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise errors.MessageTooLarge(f"The message has {size} bytes; the limit is {max_bytes}.")
    try:
        content = loads(text_data)
    except TooDeep as exc:
        raise errors.InvalidMessage(str(exc), code="too_deep") from None
    except ValueError:
        raise errors.MalformedJson() from None
    if not isinstance(content, dict) or not isinstance(content.get("type"), str):
        raise errors.InvalidMessage('A message is a JSON object with a string "type".')
    return content


def positive_int(content: dict, field: str) -> int:
    value = content.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise errors.InvalidMessage(f'"{field}" must be a positive integer.')
    return value


def ref_of(content: Any) -> Any:
    """The client's `ref`, echoed in the reply, if it is a plain value."""
    if not isinstance(content, dict):
        return None
    ref = content.get("ref")
    return ref if isinstance(ref, str | int | float | bool) or ref is None else None
