"""WebSocket routes. The consumers arrive with the realtime issue; until then no path
accepts a connection."""

from channels.routing import URLRouter

websocket_urlpatterns: list = []
websocket_application = URLRouter(websocket_urlpatterns)
