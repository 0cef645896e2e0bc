"""One ASGI application for HTTP (the API, admin, static files) and WebSocket."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
# Requests run in threads of their own here: connections come from a pool (settings: DATABASES).
os.environ.setdefault("DATABASE_POOL", "true")
# Django must be set up before anything imports models (the WebSocket routes do).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from config.api.body_limit import BodyLimitASGI  # noqa: E402
from realtime.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Bodies are counted while they arrive: 413 at the first byte over the limit.
        "http": BodyLimitASGI(django_asgi_app),
        # No blanket Origin check: token and API-key clients (scripts, other sites) send any
        # Origin or none. realtime.auth accepts a session cookie only from a same-origin page.
        "websocket": websocket_application,
    }
)
__all__ = ("application", "URLRouter")
