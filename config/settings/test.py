"""The test suite. Uses DATABASE_URL / REDIS_URL when set (CI points them at PostgreSQL and
Redis); otherwise SQLite and the local Redis."""

import os

# Tests keep off the development database number (db 0), where a `make run` worker may listen.
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
# `make test` runs two processes and `make test-fast` one per core, at most 6 (pytest-xdist):
# each gets a Redis database of its own (cache, rate limits, broker queues and markers), as it
# gets a database of its own.
if (_xdist_worker := os.environ.get("PYTEST_XDIST_WORKER", "")).startswith("gw"):
    _base = os.environ["REDIS_URL"].rpartition("/")[0]
    os.environ["REDIS_URL"] = f"{_base}/{10 + int(_xdist_worker[2:]) % 6}"

from .base import *  # noqa: E402, F403
from .base import CACHES, CHANNEL_LAYERS, env  # noqa: E402

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdef"
# A fixed Fernet key: tests never read or write the development key file under var/.
ENCRYPTION_KEY = ["7u0m4kiSEJxz5z1tqB7y3W6rAoLCzd1dD0n6s0N5QqE="]
# Hashing cost is not what the tests are about.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# No analytics.updated pushes (Celery messages) from unit tests; the dashboard's browser test
# turns them on for its server and worker.
ANALYTICS_LIVE_PUSH = env.bool("ANALYTICS_LIVE_PUSH", default=False)
# Test servers serve static files from the apps' folders (no collectstatic).
WHITENOISE_USE_FINDERS = True
# Each test run gets its own cache namespace on the shared Redis (tests clear it between tests).
CACHES["default"]["KEY_PREFIX"] = env("CACHE_KEY_PREFIX", default="docchain-test")
CACHES["ai"]["KEY_PREFIX"] = CACHES["default"]["KEY_PREFIX"]
CACHES["ratelimit"]["KEY_PREFIX"] = CACHES["default"]["KEY_PREFIX"]
# Unit tests use the in-memory layer; end-to-end tests override with the Redis one, and give
# the servers and workers they start CHANNEL_LAYER=redis.
REDIS_CHANNEL_LAYERS = CHANNEL_LAYERS  # what end-to-end tests switch this process to
if env("CHANNEL_LAYER", default="memory") != "redis":
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
REALTIME_STATS_PREFIX = env("REALTIME_STATS_PREFIX", default="docchain-test:ws-stats")
LOG_FORMAT = "console"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}

# A file, not memory, for SQLite: a real worker (thread or process) must see the same data.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    VAR_DIR.mkdir(exist_ok=True)  # noqa: F405 - a fresh clone has no var/ yet
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}  # noqa: F405
    # No fsync per commit: a test database need not survive a power cut, and flushing the
    # tables after every transactional test paid one per table.
    DATABASES["default"]["OPTIONS"]["init_command"] = (  # noqa: F405
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
    )

# --- AI gateway: never a real provider from tests, whatever the developer's environment has.
OPENAI_API_KEY = ANTHROPIC_API_KEY = GEMINI_API_KEY = ""
OPENAI_API_BASE = ANTHROPIC_API_BASE = GEMINI_API_BASE = ""
LOCAL_LLM_BASE_URL = LOCAL_LLM_API_KEY = ""
AI_DEFAULT_MODEL = ""
# Instant offline replies, unless a child process is told otherwise (bench/recovery.py in the chaos
# test needs steps that take long enough to be caught running).
OFFLINE_LLM_LATENCY_MS = env.int("OFFLINE_LLM_LATENCY_MS", default=0)
AI_CACHE_TTL = 300

# Search: tests that want indexing on run finish turn it on (most engine tests do not search).
SEARCH_INDEX_ON_RUN_FINISH = False
