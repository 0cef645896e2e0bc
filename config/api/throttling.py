"""One throttle for every write API (DEFAULT_THROTTLE_CLASSES), so plain APIViews (start a
run, execute, import, generate) are covered like viewsets.

Counted in Redis (the shared cache) per API key, else per user, else per client IP, in fixed
windows, with a rate per scope (settings.WRITE_RATES). A view names its scope with
`throttle_scope`; otherwise its URL name picks one (WRITE_THROTTLE_SCOPES), else "writes".
Over the limit: 429 with Retry-After (the exception handler) and an access.rate_limited event.
Reads are not throttled here.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import BaseThrottle

from config.client_ip import client_ip

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'60/m' -> (60, 60); '5/10s' style multipliers are not needed here."""
    count, period = rate.split("/")
    return int(count), _PERIODS[period.strip()[0].lower()]


def scope_of(request, view) -> str:
    scope = getattr(view, "throttle_scope", None)
    if scope:
        return scope
    match = getattr(request, "resolver_match", None)
    name = (match.url_name or "") if match is not None else ""
    for fragment, candidate in settings.WRITE_THROTTLE_SCOPES:
        if fragment in name:
            return candidate
    return "writes"


def identity_of(request) -> str:
    auth = getattr(request, "auth", None)
    prefix = getattr(auth, "prefix", None)
    if prefix:
        return f"key:{prefix}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_ip(request)}"


class WriteRateThrottle(BaseThrottle):
    def __init__(self):
        self._wait: float | None = None

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS or not settings.WRITE_THROTTLE_ENABLED:
            return True
        scope = scope_of(request, view)
        rate = settings.WRITE_RATES.get(scope) or settings.WRITE_RATES["writes"]
        limit, period = parse_rate(rate)
        now = time.time()
        window = int(now // period)
        identity = identity_of(request)
        key = f"{settings.WRITE_THROTTLE_PREFIX}:{scope}:{identity}:{window}"
        try:
            cache.add(key, 0, period + 1)
            count = cache.incr(key)
        except Exception:  # Redis down: fail open; health reports it, writes go on
            logger.warning("write throttle: cache unavailable, not counting")
            return True
        if count <= limit:
            return True
        self._wait = max(1.0, period - (now % period))
        if count == limit + 1:  # once per window and identity, not per refused request
            from audit.services import record_security_event  # noqa: PLC0415 - low-level app

            record_security_event(
                "access.rate_limited",
                request=request,
                details={"scope": scope, "limit": rate},
            )
        return False

    def wait(self) -> float | None:
        return self._wait
