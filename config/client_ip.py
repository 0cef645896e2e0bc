"""The client's IP address, decided in one place for every app (audit, rate limits, keys).

Behind N trusted reverse proxies (TRUSTED_PROXY_COUNT), the address is the N-th hop from the
right of X-Forwarded-For: the one the outermost proxy we trust saw. Hops further left are
whatever the client claimed and are never believed. With no proxies, REMOTE_ADDR.
"""

import ipaddress

from django.conf import settings


def _valid(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    meta = getattr(request, "META", None) or {}
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies > 0:
        hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [hop for hop in hops if hop]
        if len(hops) >= proxies:
            return _valid(hops[-proxies])
    return _valid(meta.get("REMOTE_ADDR"))
