"""WebSocket routes: the one endpoint, `/api/v3/ws/ws`.

Tokens and API keys are read by the consumer (`realtime.auth`). Only a handshake without one
goes through channels' AuthMiddlewareStack, for the session of the project's own pages: its
wrapper inspects the session on every message sent, which a token client does not need.
Origins are checked in `realtime.auth` too, for session connections only: a token or key is
never sent by a browser on its own, a cookie is.
"""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from django.urls import path

from realtime import auth
from realtime.consumers import RealtimeConsumer

websocket_urlpatterns: list = [
    path("api/v3/ws/ws", RealtimeConsumer.as_asgi(), name="ws"),
]


class SessionUnlessCredential:
    def __init__(self, inner):
        self.inner = inner
        self.with_session = AuthMiddlewareStack(inner)

    async def __call__(self, scope, receive, send):
        if auth.has_credential(scope):
            return await self.inner(scope, receive, send)
        return await self.with_session(scope, receive, send)


websocket_application = SessionUnlessCredential(URLRouter(websocket_urlpatterns))
