"""Who may read /metrics (and health's performance figures): a bearer METRICS_TOKEN, or a
client address in METRICS_ALLOWED_IPS (addresses or networks; default loopback only)."""

import hmac
import ipaddress
import logging

from django.conf import settings

from config.client_ip import client_ip

logger = logging.getLogger(__name__)


def has_metrics_token(request) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return False
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def _networks():
    networks = []
    for entry in settings.METRICS_ALLOWED_IPS:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            logger.warning("METRICS_ALLOWED_IPS: %r is not an address or network", entry)
    return networks


def address_allowed(request) -> bool:
    """The client's address (config.client_ip: TRUSTED_PROXY_COUNT hops of X-Forwarded-For,
    else the socket's) in METRICS_ALLOWED_IPS."""
    try:
        address = ipaddress.ip_address(client_ip(request) or "")
    except ValueError:
        return False
    return any(address in network for network in _networks())


def may_scrape(request) -> bool:
    return has_metrics_token(request) or address_allowed(request)
