"""Rate-limit keys."""


def client_ip(group, request) -> str:
    """The client's address; a server on a Unix socket (or a test transport) may give none,
    which django-ratelimit's own "ip" key turns into a KeyError (a 500)."""
    return request.META.get("REMOTE_ADDR") or "unknown"
