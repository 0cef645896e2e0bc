"""Rate-limit keys."""

from config.client_ip import client_ip as project_client_ip


def client_ip(group, request) -> str:
    """The client's address by the project's one rule (config/client_ip.py); a server on a Unix
    socket (or a test transport) may give none, which django-ratelimit's own "ip" key turns
    into a KeyError (a 500)."""
    return project_client_ip(request) or "unknown"
