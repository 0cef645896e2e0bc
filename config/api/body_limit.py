"""The request body limit, enforced while the body is read.

Django's ASGI handler reads a whole request body into a temporary file before any middleware
runs, and a chunked request (no Content-Length) declares nothing to check: 200 MB sent to the
unauthenticated login were accepted. This wrapper sits in front of Django, counts the bytes as
they arrive, and answers 413 in the API's error shape at the first byte over the limit, without
reading the rest. A chunked body under the limit is handed on with its Content-Length (DRF
reads nothing without one). `RequestBodyLimitMiddleware` (config/api/middleware.py) keeps the
same rule for WSGI and the test client.
"""

import json

from django.conf import settings


def _too_large_body(limit: int, received: int | None) -> bytes:
    details = {"limit_bytes": limit}
    if received is not None:
        details["received_bytes"] = received
    error = {
        "code": "request_too_large",
        "message": "The request body is larger than the limit.",
        "details": details,
    }
    return json.dumps({"error": error}).encode()


class BodyLimitASGI:
    def __init__(self, app, *, limit: int | None = None):
        self.app = app
        self._limit = limit

    @property
    def limit(self) -> int:
        return self._limit if self._limit is not None else settings.MAX_REQUEST_BODY_BYTES

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            return await _refuse(send, limit, declared)
        # Read the body here (Django would read it whole anyway), stopping at the limit.
        messages, received = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect: nobody to answer
                messages.append(message)
                break
            received += len(message.get("body", b""))
            if received > limit:
                return await _refuse(send, limit, None)
            messages.append(message)
            if not message.get("more_body", False):
                break

        if declared is None:
            # Chunked: DRF reads no body without a Content-Length. The body is here, whole.
            headers = [(k, v) for k, v in scope["headers"] if k != b"transfer-encoding"]
            scope = {**scope, "headers": [*headers, (b"content-length", str(received).encode())]}

        async def replay():
            if messages:
                return messages.pop(0)
            return await receive()

        return await self.app(scope, replay, send)


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # Django's own middleware answers 400 for it
    return None


async def _refuse(send, limit: int, declared: int | None) -> None:
    body = _too_large_body(limit, declared)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
