"""Development on one machine: `make run`. Readable logs, DEBUG on unless told otherwise."""

from config.logging import logging_config

from .base import *  # noqa: F403
from .base import LOG_LEVEL, env

DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])
LOGGING = logging_config(log_format=env("LOG_FORMAT", default="console"), level=LOG_LEVEL)
