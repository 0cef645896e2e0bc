"""WebSocket routes: the one endpoint, `/api/v3/ws/ws`.

Sessions come from channels' AuthMiddlewareStack (for the project's own pages); tokens and API
keys are read by the consumer (`realtime.auth`). Origins are checked there too, for session
connections only: a token or key is never sent by a browser on its own, a cookie is.
"""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from django.urls import path

from realtime.consumers import RealtimeConsumer

websocket_urlpatterns: list = [
    path("api/v3/ws/ws", RealtimeConsumer.as_asgi(), name="ws"),
]
websocket_application = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
