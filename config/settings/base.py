"""Settings shared by every environment: Django, data, authentication, the API, Celery, the
content-security policy, static files and logging. Each app's own tunables are in `apps.py`,
imported at the end. Values come from the environment (`environment.py`)."""

from datetime import timedelta
from urllib.parse import urlparse

from csp.constants import NONE, SELF

from config.logging import logging_config

from .environment import BASE_DIR, VAR_DIR, env

# --- Core ---------------------------------------------------------------------------------
DEVELOPMENT_SECRET_KEY = "insecure-dev-key-change-me-in-production-0123456789"
SECRET_KEY = env("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Fernet key(s) for secrets stored encrypted at rest (config/crypto.py); the first encrypts,
# all decrypt (rotation). Development without it uses a key file under var/; production refuses.
ENCRYPTION_KEY = env.list("ENCRYPTION_KEY", default=[])
ENCRYPTION_KEY_FILE = VAR_DIR / "encryption.key"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "channels",
    "rest_framework",
    "rest_framework_api_key",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "auditlog",
    "django_otp",
    "axes",
    "django_prometheus",
    "csp",
]
LOCAL_APPS = [
    "config.apps.ProjectConfig",
    "audit",
    "accounts",
    "realtime",
    "ai",
    "tasks",
    "workflows",
    "analytics",
    "search",
    "notifications",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "config.api.request_logging.RequestLogMiddleware",
    "config.api.middleware.ApiErrorShapeMiddleware",
    "analytics.request_latency.RequestLatencyMiddleware",
    "config.api.middleware.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit.context.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Around the views: turns axes' lockout of a browser login (admin, browsable API) into our 429.
    "axes.middleware.AxesMiddleware",
    # Innermost, and sync-only: Django then runs the whole chain in one thread under ASGI. With an
    # async-capable middleware innermost, every hook of those above it down to the first sync-only
    # one ran in a thread hop of its own (MiddlewareMixin.__acall__): seven more hops a request.
    "accounts.authentication.LoginSessionMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Data ---------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'docchain.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# The web process (config/asgi.py turns this on) serves each request from a thread of its own:
# a persistent connection per thread would never be reused, and a burst of requests would
# open connections until PostgreSQL refuses more. It borrows from a pool instead (Django's
# psycopg pool; requests wait up to DATABASE_POOL_TIMEOUT for one). Celery workers keep one
# persistent connection per process.
DATABASE_POOL = env.bool("DATABASE_POOL", default=False)
if DATABASE_POOL and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them; Django requires 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
# Prepared statements: a statement run often on a connection (the engine's claim, the
# run's lock, the inserts of every step) is planned once, not at every execution (planning
# was ~0.7 ms of the claim's ~0.9 ms on the 2-core machine). They need server-side parameter
# binding. Off (DATABASE_PREPARED_STATEMENTS=false) behind a pooler in transaction mode, such
# as PgBouncer before 1.21, which cannot keep a session's prepared statements.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_PREPARED_STATEMENTS", default=True
):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": 5}
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: wait for locks instead of failing at once, and
    # write-ahead logging so readers never wait for the writer (NORMAL is durable with WAL).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

# django-prometheus counts queries, errors and connections through its wrappers of Django's
# own backends (same behaviour otherwise). Compare engines with .endswith("sqlite3").
_PROMETHEUS_ENGINES = {
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
}
if env.bool("METRICS_DATABASE", default=True):
    _engine = DATABASES["default"]["ENGINE"]
    DATABASES["default"]["ENGINE"] = _PROMETHEUS_ENGINES.get(_engine, _engine)

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "config.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="docchain"),
        "TIMEOUT": 300,
    },
    # django-ratelimit's counters: the same Redis, failing open (config/cache.py says why).
    "ratelimit": {
        "BACKEND": "config.cache.FailOpenRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="docchain"),
        "TIMEOUT": 300,
    },
}
# The AI reply cache has an alias of its own, chosen by CACHE_URL (django-environ): Redis by
# default (the same server); "locmemcache://" or "filecache:///path" serve one process only
# (each process would keep its own replies and counters). Rate limits and revocations stay
# in the default cache on Redis.
CACHES["ai"] = (
    env.cache_url("CACHE_URL")
    if env("CACHE_URL", default="")
    else {"BACKEND": "config.cache.RedisCache", "LOCATION": REDIS_URL}
)
CACHES["ai"].setdefault("KEY_PREFIX", CACHES["default"]["KEY_PREFIX"])
CACHES["ai"].setdefault("TIMEOUT", 300)
# A process's publisher waits this long after an event for more to send with it (one Redis
# PUBLISH per group for all of them): realtime/publisher.py.
REALTIME_PUBLISH_LINGER_MS = env.int("REALTIME_PUBLISH_LINGER_MS", default=20)
_REDIS_DB = (urlparse(REDIS_URL).path.lstrip("/") or "0").split("?")[0]
CHANNEL_LAYERS = {
    "default": {
        # Pub/sub: one Redis PUBLISH per event, delivered to every subscribed process at once
        # (bench/ws_fanout.py: 1,000 clients in one room within a 150 ms p99 with it; the
        # list-based core layer did not keep up). Events are at-most-once either way.
        "BACKEND": env(
            "CHANNEL_LAYER_BACKEND", default="channels_redis.pubsub.RedisPubSubChannelLayer"
        ),
        "CONFIG": {
            # The core layer blocks 5 s in BZPOPMIN; redis-py 8 times reads out after 5 s by
            # default, which kills every idle consumer. Give reads a longer timeout.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
            # Redis pub/sub ignores the database number: two deployments (or test runs) on one
            # Redis server with different REDIS_URL databases would hear each other's events.
            "prefix": env("CHANNEL_PREFIX", default=f"docchain-db{_REDIS_DB}"),
        },
    }
}

# --- Auth ---------------------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.passwords.CharacterClassValidator", "OPTIONS": {"min_classes": 3}},
]
LOGIN_URL = "/admin/login/"
# axes first: it refuses a locked account before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
SITE_URL = env("SITE_URL", default="http://localhost:8000")  # in mails (password reset)

# --- API (DRF, JWT, OpenAPI, request limits) -----------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.SessionJWTAuthentication",
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.IsAuthenticatedWithScope"],
    "DEFAULT_THROTTLE_CLASSES": ["config.api.throttling.WriteRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "config.api.filters.FilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "config.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "config.api.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # The login view sends Django's user_logged_in, whose receiver updates last_login.
    "UPDATE_LAST_LOGIN": False,
    "AUTH_HEADER_TYPES": ("Bearer",),
}
API_KEY_CUSTOM_HEADER = None  # keys arrive as "Authorization: Api-Key <key>"

SPECTACULAR_SETTINGS = {
    "TITLE": "Docchain API",
    "DESCRIPTION": "Document workflow chains: workflows, runs, documents, AI, tasks, realtime.",
    "VERSION": "3.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Operations are tagged by app (config.api.schema); a new app adds its line here.
    "TAGS": [
        {"name": "accounts", "description": "Users, authentication, workspaces, API keys."},
        {"name": "profile", "description": "Your account: profile, email, deletion, your data."},
        {"name": "users", "description": "Staff user management (404 to everyone else)."},
        {"name": "invitations", "description": "Invite people to a workspace by email."},
        {
            "name": "workspaces",
            "description": "Workspace lifecycle: rename, delete, leave, transfer, export.",
        },
        {"name": "workflows", "description": "Workflows, steps, schedules, runs, documents."},
        {"name": "ai", "description": "Model calls (generate, analyze), models, usage."},
        {"name": "tasks", "description": "Background tasks: submit, watch, cancel, retry."},
        {"name": "search", "description": "Keyword, semantic and hybrid document search."},
        {"name": "analytics", "description": "Summaries, time series, insights, metrics."},
        {"name": "notifications", "description": "Channels, templates, rules, deliveries."},
        {"name": "audit", "description": "Audit log and security events."},
        {"name": "realtime", "description": "WebSocket connection statistics."},
        {"name": "config", "description": "Health."},
    ],
    # Several models have a `status`; name each choice set after its class.
    "ENUM_NAME_OVERRIDES": {
        "WorkflowStatusEnum": "workflows.models.WorkflowStatus",
        "RunStatusEnum": "workflows.models.RunStatus",
        "StepStatusEnum": "workflows.models.StepStatus",
        "ReportKindEnum": "analytics.models.ReportKind",
        "LoginSessionKindEnum": "accounts.models.LoginSession.Kind",
        "StepKindEnum": "workflows.models.StepKind",
        "SecurityEventKindEnum": "audit.events.SecurityEventKind",
        "SeverityEnum": "audit.events.Severity",
        "AlertStatusEnum": "audit.events.AlertStatus",
        "ChannelKindEnum": "notifications.models.ChannelKind",
        "TemplateChannelEnum": "notifications.models.TEMPLATE_CHANNEL_CHOICES",
    },
}

# Request bodies above this size are refused with 413 before any view reads them.
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES
# JSON (and YAML) documents nested deeper than this are refused with 400 (config/api/parsers.py).
MAX_JSON_DEPTH = env.int("MAX_JSON_DEPTH", default=64)

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_RESULT_EXPIRES = 3600  # results are for remote control and checks; the DB holds ours
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Messages each worker process holds at once, running included (acks_late). 1 keeps the
# priorities (a high task never waits behind a low one a busy worker has taken ahead) and shares
# long model calls fairly between workers. A worker of short jobs only may take more: a process
# then no longer waits for an acknowledgement and a fetch to go round the broker between tasks
# (bench/tasks.py, 2,000 echo tasks, runs in turns over one evening: 0.64-0.82x bare Celery's
# pace with 4, 0.52-0.71x with 1). What a killed worker held is given back by
# maintenance.recover_tasks (config/broker.py).
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=1)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=540)
CELERY_TASK_DEFAULT_QUEUE = "default"
# Celery's Django fixup closes the database connection before and after every task unless this
# is set, so each task would open a new PostgreSQL connection (a new server process: ~5 ms and
# real CPU per task). With it, connections live as Django's CONN_MAX_AGE says; config/celery_app
# closes broken or expired ones around each task, as Django does around each request.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers an unacked message after this long; it must outlast the longest task.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    # Poll queues in a fixed order (high, default, low) rather than round-robin.
    "queue_order_strategy": "priority",
}

# --- Content-Security-Policy (django-csp 4): the one policy of the project ---------------------
# Our pages load scripts and styles from our own static files only: no inline script or
# style, no CDN (Chart.js is vendored). WebSockets to the same host are 'self'. Pages served
# by libraries that need more (ReDoc's inline start-up script) loosen it per view, in urls.py.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Internationalization, static ---------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Project-wide static files (vendored libraries, the dashboard's script and styles).
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

# --- Logging ------------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_FORMAT = env("LOG_FORMAT", default="json")  # "json" lines, or "console" for people

LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)

# Each app's own settings.
from .apps import *  # noqa: E402, F403
