"""Development on one machine: `make run`. Readable logs, DEBUG on unless told otherwise."""

import warnings

from config import crypto
from config.logging import logging_config

from .base import *  # noqa: F403
from .base import ENCRYPTION_KEY, ENCRYPTION_KEY_FILE, LOG_LEVEL, env

if ENCRYPTION_KEY:
    ENCRYPTION_KEY = crypto.parse_keys(ENCRYPTION_KEY)
else:
    # Secrets stay readable across restarts; production has no such fallback.
    ENCRYPTION_KEY = [crypto.development_key(ENCRYPTION_KEY_FILE)]
    warnings.warn(
        f"ENCRYPTION_KEY is not set: using the development key in {ENCRYPTION_KEY_FILE}.",
        stacklevel=1,
    )

DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])
LOGGING = logging_config(log_format=env("LOG_FORMAT", default="console"), level=LOG_LEVEL)
