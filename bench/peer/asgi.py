"""The peer served the plain way: Django's own ASGI handler under uvicorn."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.peer.settings")
# The same database access as ours (config/asgi.py): connections from a pool. Without it each
# request's thread kept a persistent connection of its own (CONN_MAX_AGE), and under 50
# connections the peer ran PostgreSQL out of them: "too many clients", 0 req/s in some runs.
os.environ.setdefault("DATABASE_POOL", "true")
application = get_asgi_application()
