"""Serialization of outgoing events, once per process: every connection in a group forwards the
same event, so its text is kept for the most recent events and reused."""

import json
from collections import OrderedDict

RECENT_EVENTS = 512

_recent_texts: OrderedDict[str, str] = OrderedDict()


def serialized(event: dict) -> str:
    event_id = event.get("id")
    text = _recent_texts.get(event_id) if event_id else None
    if text is None:
        text = json.dumps(event)
        if event_id:
            _recent_texts[event_id] = text
            if len(_recent_texts) > RECENT_EVENTS:
                _recent_texts.popitem(last=False)
    return text
