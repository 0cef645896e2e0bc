"""Production: secrets required from the environment, secure cookies, JSON logs."""

from django.core.exceptions import ImproperlyConfigured

from config import crypto

from .base import *  # noqa: F403
from .base import DEVELOPMENT_SECRET_KEY, ENCRYPTION_KEY, SECRET_KEY, env

MIN_SECRET_KEY_LENGTH = 50

# Refuse to start rather than warn: a weak key lets anyone forge sessions and reset links.
if SECRET_KEY == DEVELOPMENT_SECRET_KEY or SECRET_KEY.startswith("insecure-"):
    raise ImproperlyConfigured("Set SECRET_KEY in the environment for production.")
if len(SECRET_KEY) < MIN_SECRET_KEY_LENGTH or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured(
        f"SECRET_KEY is too weak: use at least {MIN_SECRET_KEY_LENGTH} random characters "
        "(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )
ENCRYPTION_KEY = crypto.parse_keys(ENCRYPTION_KEY)
if not ENCRYPTION_KEY:
    raise ImproperlyConfigured(
        "Set ENCRYPTION_KEY for production (a Fernet key; make one with "
        "`python manage.py rotate_encryption_key --generate`)."
    )

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^api/v3/health$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    # Preloading is a commitment an operator opts into; not asking for it is not a mistake.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
