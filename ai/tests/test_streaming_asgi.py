"""Server-sent events through Django's ASGI handler (what uvicorn/daphne run): the events must
arrive one by one, not buffered until the end."""

import json

import pytest
from django.test import AsyncClient

from accounts import sessions
from ai.models import UsageRecord

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def test_sse_streams_incrementally_under_asgi(user):
    from asgiref.sync import sync_to_async

    token = await sync_to_async(lambda: sessions.issue_tokens(user=user)["access"])()
    response = await AsyncClient().post(
        "/api/v3/advanced/ai/generate",
        {"prompt": "Write about river otters.", "stream": True, "latency_ms": 300},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.content
    assert response.is_async  # an async iterator: Django will not buffer it

    events = []
    async for chunk in response.streaming_content:
        text = chunk.decode()
        events.append(text)
        if text.startswith("event: delta"):
            # The usage row is written when the stream ends: none yet means not buffered.
            assert await UsageRecord.objects.acount() == 0
            break
    async for chunk in response.streaming_content:
        events.append(chunk.decode())

    assert events[-1].startswith("event: done")
    done = json.loads(events[-1].split("data: ", 1)[1])
    assert "river otters" in done["content"].lower()
    assert await UsageRecord.objects.filter(pk=done["usage_id"], streamed=True).aexists()
