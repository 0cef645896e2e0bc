import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

from channels.testing import WebsocketCommunicator
from django.db import connections

from realtime.routing import websocket_application

WS_PATH = "/api/v3/ws/ws"


def token_for(user) -> str:
    """An access token of a new login session, as the login endpoint gives one. From async
    code (no ORM there) the session is written from a thread of its own."""
    from accounts import sessions

    def issue() -> str:
        return sessions.issue_tokens(user=user)["access"]

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return issue()

    def in_thread() -> str:
        try:
            return issue()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(in_thread).result()


def communicator(query: str = "", headers=None) -> WebsocketCommunicator:
    path = f"{WS_PATH}?{query}" if query else WS_PATH
    return WebsocketCommunicator(websocket_application, path, headers=headers or [])


async def connected(user=None, *, query: str = "", headers=None) -> WebsocketCommunicator:
    """A connection authenticated as `user` by JWT, past its `connection.ready` event."""
    if user is not None and not query and not headers:
        query = f"token={token_for(user)}"
    client = communicator(query, headers)
    ok, code = await client.connect()
    assert ok, code
    ready = await client.receive_json_from()
    assert ready["type"] == "connection.ready"
    return client


async def request(client: WebsocketCommunicator, message: dict | str) -> dict:
    """Send one message and return the next event."""
    if isinstance(message, dict):
        message = json.dumps(message)
    await client.send_to(text_data=message)
    return await client.receive_json_from(timeout=5)
