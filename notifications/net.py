"""Outbound HTTP for channels, with the SSRF guard applied to the address actually
connected to.

Every user-supplied URL (webhooks, Slack/Teams/Discord URLs, the SMS base URL, the ntfy
server) goes through `post()`. The host is resolved once, each resolved address is checked,
and the socket connects to that very address (TLS still verifies the host name), so a DNS
answer that changes between the check and the connect (rebinding) cannot reach a private
address. Redirects are not followed. Written on http.client because requests/httpx (and
apprise on top of requests) resolve again inside their connection pools, where a check
cannot reach.

Connections are kept alive and reused, per thread, for the next POST to the same scheme, host
and port (a worker posting to one receiver pays one TCP and TLS handshake, not one per
delivery). A kept connection was checked when it connected, so it still reaches an allowed
address; it is reused only under the same guard settings, while fresh (KEEP_ALIVE_SECONDS)
and when the peer has not closed it. A reused connection that fails mid-request is an error
like any other (transient: the delivery is retried later, never resent at once).
"""

import http.client
import ipaddress
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from notifications.errors import UnsafeURL

CGNAT = ipaddress.ip_network("100.64.0.0/10")
USER_AGENT = "Docchain-Notifications/1.0"
KEEP_ALIVE_SECONDS = 15.0  # below the idle timeout of most servers (nginx: 75 s, Go: 90 s)
MAX_KEPT = 16  # connections kept per thread


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def _allowed_networks() -> list:
    return [ipaddress.ip_network(n, strict=False) for n in settings.NOTIFICATIONS_URL_ALLOWLIST]


def address_refused(address: str) -> str | None:
    """Why `address` (an IP) may not be connected to, or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if settings.NOTIFICATIONS_ALLOW_PRIVATE_URLS:
        return None
    if any(ip in network for network in _allowed_networks()):
        return None
    for label, refused in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("carrier-grade NAT", ip.version == 4 and ip in CGNAT),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved or not ip.is_global),
    ):
        if refused:
            return label
    return None


def check_url(url: str, *, resolve: bool = True) -> str:
    """Validate a user-supplied URL: http(s), a host, and (when it resolves now) no refused
    address. Returns the URL. The same check runs again at connect time."""
    if not isinstance(url, str) or len(url) > 2000:
        raise UnsafeURL("The URL must be a string of at most 2000 characters.", code="invalid_url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL("That is not a valid URL.", code="invalid_url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("The URL must be http(s) with a host.", code="invalid_url")
    if not resolve:
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return url  # not resolvable now; connect time decides
    for *_, sockaddr in infos:
        if reason := address_refused(sockaddr[0]):
            raise UnsafeURL(
                f"The URL's host resolves to a {reason} address, which is not allowed.",
                details={"host": parts.hostname, "reason": reason},
            )
    return url


def guarded_connection(host: str, port: int, timeout: float) -> socket.socket:
    """A socket to the first allowed address of `host`; UnsafeURL when every one is refused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ConnectionError(f"cannot resolve {host}: {exc}") from exc
    refused, last_error = [], None
    for family, socktype, proto, _, sockaddr in infos:
        if reason := address_refused(sockaddr[0]):
            refused.append(reason)
            continue
        sock = socket.socket(family, socktype, proto)
        sock.settimeout(timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # request/response
        try:
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last_error = exc
    if last_error is not None:
        raise last_error
    raise UnsafeURL(
        f"The host resolves to a {refused[0]} address, which is not allowed.",
        details={"host": host, "reason": refused[0]},
    )


class _HTTPConnection(http.client.HTTPConnection):
    def connect(self):
        self.sock = guarded_connection(self.host, self.port, self.timeout)


class _HTTPSConnection(http.client.HTTPSConnection):
    def connect(self):
        sock = guarded_connection(self.host, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


_kept = threading.local()


def _guard_settings() -> tuple:
    return (
        settings.NOTIFICATIONS_ALLOW_PRIVATE_URLS,
        tuple(settings.NOTIFICATIONS_URL_ALLOWLIST),
    )


def _alive(conn: http.client.HTTPConnection) -> bool:
    """The peer has not closed it: an idle kept connection has nothing to read."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _take(key: tuple) -> http.client.HTTPConnection | None:
    kept: dict = getattr(_kept, "connections", {})
    found = kept.pop(key, None)
    if found is None:
        return None
    conn, since = found
    if time.monotonic() - since < KEEP_ALIVE_SECONDS and _alive(conn):
        return conn
    conn.close()
    return None


def _keep(key: tuple, conn: http.client.HTTPConnection) -> None:
    kept: dict = getattr(_kept, "connections", None)
    if kept is None:
        kept = _kept.connections = {}
    kept[key] = (conn, time.monotonic())
    while len(kept) > MAX_KEPT:
        _, (oldest, _) = kept.pop(next(iter(kept)))
        oldest.close()


def close_kept() -> None:
    """Close this thread's kept connections."""
    kept: dict = getattr(_kept, "connections", {})
    while kept:
        _, (conn, _) = kept.popitem()
        conn.close()


def post(
    url: str, body: bytes, *, headers: dict[str, str], timeout: float | None = None
) -> HttpResponse:
    """POST `body` to `url` through the guard. Raises UnsafeURL, OSError (connection,
    timeout) or http.client.HTTPException; any HTTP status is returned, not raised."""
    check_url(url, resolve=False)
    parts = urlsplit(url)
    timeout = timeout or settings.NOTIFICATIONS_HTTP_TIMEOUT
    key = (parts.scheme, parts.hostname, parts.port, timeout, _guard_settings())
    conn = _take(key)
    if conn is None:
        if parts.scheme == "https":
            conn = _HTTPSConnection(
                parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            conn = _HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.request("POST", path, body=body, headers={"User-Agent": USER_AGENT, **headers})
        response = conn.getresponse()
        data = response.read(64 * 1024)
        answer = HttpResponse(
            status=response.status,
            headers={k.lower(): v for k, v in response.getheaders()},
            body=data,
        )
    except BaseException:
        conn.close()
        raise
    if response.isclosed() and not response.will_close:  # read to the end, and kept open
        _keep(key, conn)
    else:
        conn.close()
    return answer
