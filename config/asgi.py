"""One ASGI application for HTTP (the API, admin, static files) and WebSocket."""

import gc
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

# Everything loaded so far (Django, the apps, the routes: some 200,000 objects) lives as long as
# the process: out of the garbage collector's sight, so that a full collection scans only what
# came later. On this 2-core machine a full collection took 0.3-0.6 s with 1,000 WebSocket
# connections open, every client's events waiting behind it (bench/ws_fanout.py's p99).
gc.freeze()
