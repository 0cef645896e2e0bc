"""Each app's own settings, read from the environment: security (lockout, MFA, throttles,
rate limits, invitations, retention), audit, the AI gateway, background tasks, realtime, the
workflow engine, analytics, search, email and notifications. `base.py` imports them all."""

from datetime import timedelta

from .environment import env

# --- Security (accounts/: lockout, sessions, MFA, policies; config/api/throttling.py) -------
# Lockout (django-axes) on every login path: after LOCKOUT_FAILURES failures for a username,
# or a username from one IP, it is refused (429, Retry-After) for LOCKOUT_MINUTES.
LOCKOUT_FAILURES = env.int("LOCKOUT_FAILURES", default=5)
LOCKOUT_MINUTES = env.int("LOCKOUT_MINUTES", default=15)
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = LOCKOUT_FAILURES
AXES_COOLOFF_TIME = timedelta(minutes=LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", ["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip"
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["password", "code", "recovery_code", "otp_code", "token"]
# MFA: the issuer shown by authenticator apps, how long a login's mfa_token lasts, and the
# back-off after a wrong code (1, 2, 4, ... seconds times this factor).
MFA_ISSUER = env("MFA_ISSUER", default="Docchain")
MFA_TOKEN_SECONDS = env.int("MFA_TOKEN_SECONDS", default=300)
MFA_THROTTLE_FACTOR = env.int("MFA_THROTTLE_FACTOR", default=1)
# Rate limits on writes: requests per API key (else user, else IP) per scope.
WRITE_THROTTLE_ENABLED = env.bool("WRITE_THROTTLE_ENABLED", default=True)
WRITE_THROTTLE_PREFIX = "throttle"  # cache key namespace (tests give each test its own)
WRITE_RATES = {
    "writes": env("WRITE_RATE", default="300/m"),
    "runs": env("WRITE_RATE_RUNS", default="60/m"),
    "tasks": env("WRITE_RATE_TASKS", default="120/m"),
    "imports": env("WRITE_RATE_IMPORTS", default="20/m"),
    "api_keys": env("WRITE_RATE_API_KEYS", default="20/m"),
    "members": env("WRITE_RATE_MEMBERS", default="60/m"),
    "mfa": env("WRITE_RATE_MFA", default="20/m"),
    "password": env("WRITE_RATE_PASSWORD", default="10/m"),
    "password_reset": env("WRITE_RATE_PASSWORD_RESET", default="5/m"),
    "validate_password": env("WRITE_RATE_VALIDATE_PASSWORD", default="60/m"),
    "account": env("WRITE_RATE_ACCOUNT", default="30/m"),
    "exports": env("WRITE_RATE_EXPORTS", default="10/m"),
}
# URL-name fragments that choose a scope for views that do not name one (first match wins).
WRITE_THROTTLE_SCOPES = [
    ("import", "imports"),
    ("api-key", "api_keys"),
    ("member", "members"),
    ("run", "runs"),
    ("execute", "runs"),
    ("task", "tasks"),
]


# django-ratelimit counts in the shared Redis cache, so limits hold across processes. With Redis
# down it lets requests through uncounted (fail-open; config/cache.py says why).
RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_FAIL_OPEN = True
RATELIMIT_IP_META_KEY = "config.client_ip.client_ip"  # the project's one client-IP rule
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
LOGIN_RATE = env("LOGIN_RATE", default="20/m")
REGISTER_RATE = env("REGISTER_RATE", default="10/m")
# Invitations sent per inviting user, and tries of mailed tokens (invitation, email change) per IP.
INVITATION_RATE = env("INVITATION_RATE", default="30/h")
TOKEN_CONFIRM_RATE = env("TOKEN_CONFIRM_RATE", default="30/m")
# How long an invitation link and an email-change confirmation link work.
INVITATION_DAYS = env.int("INVITATION_DAYS", default=7)
EMAIL_CHANGE_HOURS = env.int("EMAIL_CHANGE_HOURS", default=48)
# Data retention (accounts.retention, nightly): finished runs, documents and AI usage records
# older than this many days are deleted; 0 = kept for ever (the default). Documents that kept
# documents were made from are kept, and so are their runs.
RUN_RETENTION_DAYS = env.int("RUN_RETENTION_DAYS", default=0)
DOCUMENT_RETENTION_DAYS = env.int("DOCUMENT_RETENTION_DAYS", default=0)
USAGE_RETENTION_DAYS = env.int("USAGE_RETENTION_DAYS", default=0)

# The client IP is the N-th X-Forwarded-For hop from the right behind N trusted proxies
# (config/client_ip.py); 0 = REMOTE_ADDR, the only safe value without a proxy in front.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Audit (audit/) ------------------------------------------------------------------------
AUDIT_ENABLED = env.bool("AUDIT_ENABLED", default=True)  # off only for benchmarks
AUDITLOG_LOGENTRY_MODEL = "audit.AuditLogEntry"
# auditlog's own migrations create its default table even when the model is swapped, and that
# orphan table breaks `flush` (jazzband/django-auditlog#804): we never use it, so no migrations.
MIGRATION_MODULES = {"auditlog": None}
AUDITLOG_STORE_JSON_CHANGES = True
AUDITLOG_DISABLE_REMOTE_ADDR = False
# 403s, 429s and cross-workspace 404s: one row per actor (or IP) per window, with a count;
# the row's count is brought up to date at most this often.
AUDIT_COUNT_WINDOW_SECONDS = env.int("AUDIT_COUNT_WINDOW_SECONDS", default=300)
AUDIT_COUNT_FLUSH_SECONDS = env.int("AUDIT_COUNT_FLUSH_SECONDS", default=5)
AUDIT_CACHE_PREFIX = env("AUDIT_CACHE_PREFIX", default="audit")  # namespace of the counters
# The access review calls an account inactive after this many days without a login.
AUDIT_INACTIVE_DAYS = env.int("AUDIT_INACTIVE_DAYS", default=90)
# Rows older than this are deleted by the nightly audit.retention job (0 keeps them forever);
# a signed checkpoint keeps each chain verifiable after the deletion.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)
# Threat rules (audit/rules.py).
ALERT_FAILED_LOGINS = env.int("ALERT_FAILED_LOGINS", default=5)
ALERT_FAILED_LOGINS_MINUTES = env.int("ALERT_FAILED_LOGINS_MINUTES", default=5)
ALERT_STUFFING_ACCOUNTS = env.int("ALERT_STUFFING_ACCOUNTS", default=10)
ALERT_STUFFING_MINUTES = env.int("ALERT_STUFFING_MINUTES", default=10)
ALERT_PROBE_BURST = env.int("ALERT_PROBE_BURST", default=20)
ALERT_LOGIN_AFTER_LOCKOUT_MINUTES = env.int("ALERT_LOGIN_AFTER_LOCKOUT_MINUTES", default=60)
ALERT_MASS_DELETION = env.int("ALERT_MASS_DELETION", default=20)
ALERT_MASS_DELETION_MINUTES = env.int("ALERT_MASS_DELETION_MINUTES", default=5)

# --- AI gateway (ai/) ----------------------------------------------------------------------
# Provider keys come from the environment; a provider without its key is "not configured".
OPENAI_API_KEY = env("OPENAI_API_KEY", default="")
ANTHROPIC_API_KEY = env("ANTHROPIC_API_KEY", default="")
GEMINI_API_KEY = env("GEMINI_API_KEY", default="")
# A workspace may bring its own key for these three (encrypted at rest; the gateway prefers it).
# Optional base URLs send a provider's calls through a proxy or compatible gateway.
OPENAI_API_BASE = env("OPENAI_API_BASE", default="")
ANTHROPIC_API_BASE = env("ANTHROPIC_API_BASE", default="")
GEMINI_API_BASE = env("GEMINI_API_BASE", default="")
# Any OpenAI-compatible server (Ollama, vLLM, llama.cpp): models are "local/<name>".
LOCAL_LLM_BASE_URL = env("LOCAL_LLM_BASE_URL", default="")
LOCAL_LLM_API_KEY = env("LOCAL_LLM_API_KEY", default="")
LOCAL_LLM_MODELS = env.list("LOCAL_LLM_MODELS", default=[])  # names to list in /ai/models
# The default model: AI_DEFAULT_MODEL if its provider is configured, else offline/writer.
AI_DEFAULT_MODEL = env("AI_DEFAULT_MODEL", default="")
OFFLINE_LLM_LATENCY_MS = env.int("OFFLINE_LLM_LATENCY_MS", default=0)
# The offline model normally runs in-process without litellm's per-call overhead (~2 ms);
# True sends it through litellm.completion like every other provider.
AI_OFFLINE_VIA_LITELLM = env.bool("AI_OFFLINE_VIA_LITELLM", default=False)
AI_CACHE_TTL = env.int("AI_CACHE_TTL", default=3600)  # seconds; 0 turns the cache off
AI_CACHE_PREFIX = env("AI_CACHE_PREFIX", default="ai")  # namespace of cache + rate-limit keys
AI_REQUEST_TIMEOUT = env.float("AI_REQUEST_TIMEOUT", default=60.0)
AI_MAX_PROMPT_CHARS = env.int("AI_MAX_PROMPT_CHARS", default=100_000)
AI_MAX_OUTPUT_TOKENS = env.int("AI_MAX_OUTPUT_TOKENS", default=16_384)
AI_MAX_ANALYZE_CHARS = env.int("AI_MAX_ANALYZE_CHARS", default=100_000)
AI_GENERATE_RATE_USER = env("AI_GENERATE_RATE_USER", default="60/m")
AI_GENERATE_RATE_WORKSPACE = env("AI_GENERATE_RATE_WORKSPACE", default="300/m")

# --- Background tasks (the `tasks` app) ----------------------------------------------------
# Seconds one attempt may run when neither the submission nor its type says; the hard limit
# (the worker kills the process) comes TASKS_HARD_LIMIT_GRACE seconds after the soft one.
TASKS_DEFAULT_TIMEOUT = env.int("TASKS_DEFAULT_TIMEOUT", default=300)
# Below the broker's visibility_timeout, or Redis would redeliver a task still running.
TASKS_MAX_TIMEOUT = env.int("TASKS_MAX_TIMEOUT", default=3000)
TASKS_HARD_LIMIT_GRACE = env.int("TASKS_HARD_LIMIT_GRACE", default=10)
TASKS_MAX_RETRIES = 10  # the most a submission may ask for
# Retry n waits TASKS_RETRY_BASE_DELAY * backoff**(n-1) seconds (capped), times a jitter
# factor in [0.5, 1).
TASKS_RETRY_BASE_DELAY = env.float("TASKS_RETRY_BASE_DELAY", default=1.0)
TASKS_RETRY_MAX_DELAY = env.float("TASKS_RETRY_MAX_DELAY", default=300.0)
TASKS_MAX_DELAY_SECONDS = 30 * 24 * 3600  # how far ahead a task may be scheduled
# Tasks due further ahead than this wait in the database (status scheduled) and are handed to
# the broker by the maintenance.release_scheduled beat job: an eta message held by a worker
# longer than the broker's visibility_timeout would be delivered again and again.
TASKS_ETA_HORIZON = env.int("TASKS_ETA_HORIZON", default=600)
TASKS_BULK_LIMIT = env.int("TASKS_BULK_LIMIT", default=1000)
# Finished task records older than this are deleted by the maintenance.cleanup_tasks job.
TASKS_RETENTION_DAYS = env.int("TASKS_RETENTION_DAYS", default=30)
# A task still `pending` (never handed to the broker) this long is handed over again.
TASKS_RESEND_PENDING_AFTER = env.int("TASKS_RESEND_PENDING_AFTER", default=30)
TASKS_INSPECT_TIMEOUT = env.float("TASKS_INSPECT_TIMEOUT", default=1.0)

# --- Realtime (WebSocket) -----------------------------------------------------------------
# Per connection: frame size, message rate (token bucket: rate per second, burst), how many
# rate-limited messages are tolerated (refilling at rate/20 per second) before the connection is
# closed with 4429, and how many topics and rooms it may join.
REALTIME_MAX_MESSAGE_BYTES = env.int("REALTIME_MAX_MESSAGE_BYTES", default=64 * 1024)
REALTIME_MAX_BROADCAST_BYTES = env.int("REALTIME_MAX_BROADCAST_BYTES", default=16 * 1024)
REALTIME_RATE_PER_SECOND = env.float("REALTIME_RATE_PER_SECOND", default=20.0)
REALTIME_RATE_BURST = env.int("REALTIME_RATE_BURST", default=40)
REALTIME_FLOOD_TOLERANCE = env.int("REALTIME_FLOOD_TOLERANCE", default=20)
REALTIME_MAX_SUBSCRIPTIONS = env.int("REALTIME_MAX_SUBSCRIPTIONS", default=50)
# Open connections per user across every web process; one more is closed with 4429.
REALTIME_MAX_CONNECTIONS = env.int("REALTIME_MAX_CONNECTIONS", default=100)
# Events waiting to be written to one slow client; beyond this it is closed with 4408.
REALTIME_MAX_QUEUED_EVENTS = env.int("REALTIME_MAX_QUEUED_EVENTS", default=1000)
# Connection statistics in Redis: each web process rewrites its keys every heartbeat; they
# expire after the TTL, so a dead process stops being counted.
REALTIME_STATS_PREFIX = env("REALTIME_STATS_PREFIX", default="docchain:ws-stats")
REALTIME_STATS_HEARTBEAT_SECONDS = env.float("REALTIME_STATS_HEARTBEAT_SECONDS", default=5.0)
REALTIME_STATS_TTL_SECONDS = env.int("REALTIME_STATS_TTL_SECONDS", default=20)

# --- Workflow engine ----------------------------------------------------------------------
# How often beat runs the lease sweep (the maintenance.sweep_step_leases task type).
ENGINE_SWEEP_SECONDS = env.int("ENGINE_SWEEP_SECONDS", default=15)
# A claim leases its step this long; the running worker renews the lease every heartbeat
# (workflows/engine/lease.py), so a dead worker's step is free again within a lease + a sweep.
ENGINE_LEASE_SECONDS = env.float("ENGINE_LEASE_SECONDS", default=30.0)
ENGINE_HEARTBEAT_SECONDS = env.float("ENGINE_HEARTBEAT_SECONDS", default=10.0)
# Leases are renewed up to the step's timeout plus this grace, the hard time limit's margin too.
ENGINE_LEASE_GRACE_SECONDS = env.float("ENGINE_LEASE_GRACE_SECONDS", default=15.0)
# A step queued this long ago with no worker on it has lost its message: the sweep resends it.
# (A broker that restarted empty, or a send that failed, is resent at the next sweep.)
ENGINE_STALE_QUEUED_SECONDS = env.float("ENGINE_STALE_QUEUED_SECONDS", default=120.0)
# Retry delays grow as backoff * 2^(attempt-1), with jitter, up to this many seconds.
ENGINE_MAX_RETRY_DELAY_SECONDS = env.float("ENGINE_MAX_RETRY_DELAY_SECONDS", default=300.0)
# A worker runs the next step of a chain itself, without the broker, while the message it took
# has kept it under this many seconds (workflows/engine/follow_on.py); 0 turns it off.
ENGINE_FOLLOW_ON_SECONDS = env.float("ENGINE_FOLLOW_ON_SECONDS", default=0.5)

# --- Analytics ----------------------------------------------------------------------------
# The longest since..until an analytics query may cover, and the most time-series buckets.
ANALYTICS_MAX_RANGE_DAYS = env.int("ANALYTICS_MAX_RANGE_DAYS", default=366)
ANALYTICS_MAX_BUCKETS = env.int("ANALYTICS_MAX_BUCKETS", default=1000)
# `analytics.updated` goes to a workspace's topic at most once per this many seconds.
ANALYTICS_PUSH_SECONDS = env.float("ANALYTICS_PUSH_SECONDS", default=5.0)
ANALYTICS_LIVE_PUSH = env.bool("ANALYTICS_LIVE_PUSH", default=True)
# /metrics (Prometheus) and health's performance figures: a bearer token, or these client
# addresses/networks (default: loopback only). Several processes on one host add up their
# counted metrics when PROMETHEUS_MULTIPROC_DIR names one directory shared by all of them.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
# A worker that has not sent a heartbeat (every 2 s) for this long is not counted alive.
ANALYTICS_WORKER_TTL_SECONDS = env.float("ANALYTICS_WORKER_TTL_SECONDS", default=10.0)
# Insights: the fewest finished runs (or steps) a rate is judged on, the rise in failure rate
# (absolute) and in a model's latency (ratio) worth reporting, the z-score of a day's cost
# against the trailing days, and how long an active workflow may go unrun.
ANALYTICS_INSIGHT_MIN_RUNS = env.int("ANALYTICS_INSIGHT_MIN_RUNS", default=3)
ANALYTICS_INSIGHT_FAILURE_RISE = env.float("ANALYTICS_INSIGHT_FAILURE_RISE", default=0.1)
ANALYTICS_INSIGHT_LATENCY_GROWTH = env.float("ANALYTICS_INSIGHT_LATENCY_GROWTH", default=1.5)
ANALYTICS_INSIGHT_COST_Z = env.float("ANALYTICS_INSIGHT_COST_Z", default=3.0)
ANALYTICS_INSIGHT_TRAILING_DAYS = env.int("ANALYTICS_INSIGHT_TRAILING_DAYS", default=14)
ANALYTICS_IDLE_DAYS = env.int("ANALYTICS_IDLE_DAYS", default=30)

# --- Search ---------------------------------------------------------------------------------
# Index a run's documents once the run finishes: the runs that finish within
# SEARCH_INDEX_BATCH_SECONDS of each other are indexed by one message on the `low` queue; the
# beat job search.index_pending catches up every SEARCH_INDEX_SWEEP_SECONDS on whatever was
# missed.
SEARCH_INDEX_ON_RUN_FINISH = env.bool("SEARCH_INDEX_ON_RUN_FINISH", default=True)
SEARCH_INDEX_BATCH_SECONDS = env.float("SEARCH_INDEX_BATCH_SECONDS", default=1.0)
SEARCH_INDEX_SWEEP_SECONDS = env.int("SEARCH_INDEX_SWEEP_SECONDS", default=60)
SEARCH_MAX_QUERY_CHARS = env.int("SEARCH_MAX_QUERY_CHARS", default=500)
# Each mode ranks at most this many candidates; hybrid fuses the two lists (reciprocal-rank
# fusion, 1 / (SEARCH_RRF_K + rank)).
SEARCH_CANDIDATES = env.int("SEARCH_CANDIDATES", default=100)
SEARCH_RRF_K = env.int("SEARCH_RRF_K", default=60)
SEARCH_RELATED = env.int("SEARCH_RELATED", default=20)  # documents /related answers with

# --- Email and notifications ---------------------------------------------------------------
# EMAIL_URL: smtp://user:password@host:587 (smtp+tls), smtps://... (SSL), consolemail:// (dev).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Docchain <noreply@localhost>")
# Where links in notifications (opt-out, runs) point: the public address of this service.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://localhost:8000")
# The SSRF guard on user-supplied URLs refuses private, loopback, link-local, CGNAT, ULA,
# multicast and unspecified addresses, except networks in the allow-list (self-hosters:
# "10.0.5.0/24,192.168.1.20"). NOTIFICATIONS_ALLOW_PRIVATE_URLS turns the guard off (tests).
# Namespace of the cached "is spend watched by a budget rule" answers (tests give each its own).
NOTIFICATIONS_CACHE_PREFIX = env("NOTIFICATIONS_CACHE_PREFIX", default="notifications")
NOTIFICATIONS_ALLOW_PRIVATE_URLS = env.bool("NOTIFICATIONS_ALLOW_PRIVATE_URLS", default=False)
NOTIFICATIONS_URL_ALLOWLIST = env.list("NOTIFICATIONS_URL_ALLOWLIST", default=[])
NOTIFICATIONS_HTTP_TIMEOUT = env.float("NOTIFICATIONS_HTTP_TIMEOUT", default=10.0)
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=5)
NOTIFICATIONS_RETRY_BASE_SECONDS = env.float("NOTIFICATIONS_RETRY_BASE_SECONDS", default=10.0)
NOTIFICATIONS_RETRY_MAX_SECONDS = env.float("NOTIFICATIONS_RETRY_MAX_SECONDS", default=3600.0)
NOTIFICATIONS_RATE_PER_WORKSPACE = env.int("NOTIFICATIONS_RATE_PER_WORKSPACE", default=600)
NOTIFICATIONS_RATE_PER_CHANNEL = {  # per minute, per configured channel (or kind)
    "default": env.int("NOTIFICATIONS_RATE_PER_CHANNEL", default=120),
    "sms": env.int("NOTIFICATIONS_RATE_SMS", default=30),
}
NOTIFICATIONS_MAX_RECIPIENTS = env.int("NOTIFICATIONS_MAX_RECIPIENTS", default=100)
NOTIFICATIONS_BULK_LIMIT = env.int("NOTIFICATIONS_BULK_LIMIT", default=100)
NOTIFICATIONS_MAX_MESSAGE_CHARS = env.int("NOTIFICATIONS_MAX_MESSAGE_CHARS", default=20000)
NOTIFICATIONS_STUCK_AFTER_SECONDS = env.int("NOTIFICATIONS_STUCK_AFTER_SECONDS", default=600)
NOTIFICATIONS_LOST_AFTER_SECONDS = env.int("NOTIFICATIONS_LOST_AFTER_SECONDS", default=300)
# Deliveries due together go to the workers in batches of up to this many per message (one
# claim and one outcome write per batch); 1 sends each delivery as a message of its own.
NOTIFICATIONS_DELIVERY_BATCH = env.int("NOTIFICATIONS_DELIVERY_BATCH", default=20)
# Web Push (the push channel's browser provider): the VAPID key pair that signs every push
# (`python manage.py generate_vapid_keys` makes one; both base64url, the private key as its raw
# 32 bytes, the public as the uncompressed point browsers take as applicationServerKey) and
# the contact the push services see (`mailto:` or `https:`). Without a private key, Web Push
# is off (the push channel still speaks ntfy). Changing the key pair orphans every browser
# subscription: browsers must subscribe again with the new public key.
VAPID_PRIVATE_KEY = env("VAPID_PRIVATE_KEY", default="")
VAPID_PUBLIC_KEY = env("VAPID_PUBLIC_KEY", default="")
VAPID_SUBJECT = env("VAPID_SUBJECT", default="")
WEBPUSH_TTL_SECONDS = env.int("WEBPUSH_TTL_SECONDS", default=86400)
WEBPUSH_MAX_SUBSCRIPTIONS_PER_USER = env.int("WEBPUSH_MAX_SUBSCRIPTIONS_PER_USER", default=20)
