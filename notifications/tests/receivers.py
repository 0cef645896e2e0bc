"""Real local receivers for the tests: an SMTP server (aiosmtpd) that keeps the messages, and
one HTTP server playing Slack, Discord, Teams (Workflows), a Twilio-compatible SMS API, ntfy
and webhook receivers. Each route checks its product's payload shape (answering 400, as the
product would, when it is wrong) and records what arrived."""

import base64
import json
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import http_ece
from aiosmtpd.controller import Controller
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from config.testing import SmtpHandler

TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_TOKEN = "twilio-test-token"


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    json: object = None
    form: dict = field(default_factory=dict)
    verified: bool | None = None
    peer: tuple = ()  # the client's (address, port): the same port means a reused connection


class HttpState:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[Received] = []
        self.webhook_secrets: dict[str, str] = {}  # path -> whsec_ secret
        self.counts: dict[str, int] = defaultdict(int)
        # Web Push: path -> (the subscriber's private key, its auth secret), the answers a
        # path gives in turn (the last one repeats), and the VAPID public key to expect.
        self.push_subscribers: dict[str, tuple[ec.EllipticCurvePrivateKey, bytes]] = {}
        self.push_answers: dict[str, list[int]] = {}
        self.vapid_public_key = ""

    def on(self, prefix: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(prefix)]


def _slack_ok(payload) -> bool:
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("text"), str)
        and isinstance(payload.get("blocks"), list)
        and all(isinstance(b, dict) and "type" in b for b in payload["blocks"])
    )


def _discord_ok(payload) -> bool:
    embeds = payload.get("embeds") if isinstance(payload, dict) else None
    return (
        isinstance(embeds, list)
        and 1 <= len(embeds) <= 10
        and all(isinstance(e.get("description"), str) for e in embeds)
    )


def _teams_ok(payload) -> bool:
    try:
        attachment = payload["attachments"][0]
        card = attachment["content"]
        return (
            payload["type"] == "message"
            and attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
            and card["type"] == "AdaptiveCard"
            and isinstance(card["body"], list)
        )
    except (KeyError, IndexError, TypeError):
        return False


def _ntfy_ok(payload) -> bool:
    return isinstance(payload, dict) and bool(payload.get("topic")) and "message" in payload


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_vapid(authorization: str, public_key: str, audience: str) -> dict:
    """The claims of a `vapid t=<JWT>,k=<key>` header, after checking (RFC 8292) that k is
    `public_key`, the JWT is ES256-signed by it, `aud` is the push service's origin, `exp` is
    in the next 24 hours and `sub` is a contact. Raises ValueError otherwise."""
    scheme, _, params = authorization.partition(" ")
    if scheme.lower() != "vapid":
        raise ValueError(f"not a vapid authorization: {scheme!r}")
    parts = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
    token, key = parts.get("t", ""), parts.get("k", "")
    if key.rstrip("=") != public_key.rstrip("="):
        raise ValueError("k is not our VAPID public key")
    header_b64, payload_b64, signature_b64 = token.split(".")
    if json.loads(_b64url_decode(header_b64)).get("alg") != "ES256":
        raise ValueError("the JWT is not ES256")
    signature = _b64url_decode(signature_b64)
    if len(signature) != 64:
        raise ValueError("an ES256 signature is 64 bytes (r || s)")
    verifier = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _b64url_decode(key))
    try:
        verifier.verify(
            encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            ),
            f"{header_b64}.{payload_b64}".encode(),
            ec.ECDSA(hashes.SHA256()),
        )
    except InvalidSignature:
        raise ValueError("the JWT's signature does not verify with the public key") from None
    claims = json.loads(_b64url_decode(payload_b64))
    now = time.time()
    if claims.get("aud") != audience:
        raise ValueError(f"aud {claims.get('aud')!r} is not {audience!r}")
    if not now < claims.get("exp", 0) <= now + 86400:
        raise ValueError("exp is not within the next 24 hours")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https://")):
        raise ValueError("sub is not a contact")
    return claims


def make_handler(state: HttpState):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the products' receivers
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall

        def log_message(self, *args):  # quiet
            pass

        def _answer(self, status: int, body: bytes = b"", content_type="text/plain", headers=None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            received = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
            received.peer = tuple(self.client_address)
            try:
                received.json = json.loads(raw) if raw[:1] in (b"{", b"[") else None
            except ValueError:
                received.json = None
            with state.lock:
                state.requests.append(received)
                state.counts[self.path] += 1
                count = state.counts[self.path]
            path = self.path
            if path.startswith("/flaky/"):  # 500 twice, then what the rest of the path says
                if count <= 2:
                    return self._answer(500, b"upstream hiccup")
                path = "/" + path.split("/", 3)[3]
            if path.startswith("/bad"):
                return self._answer(400, b"invalid_payload")
            if path.startswith("/ratelimited"):
                if count <= 1:
                    return self._answer(429, b"slow down", headers={"Retry-After": "0"})
                return self._answer(200, b"ok")
            if path.startswith("/slack"):
                ok = _slack_ok(received.json)
                return self._answer(200 if ok else 400, b"ok" if ok else b"invalid_blocks")
            if path.startswith("/discord"):
                ok = _discord_ok(received.json)
                return self._answer(204 if ok else 400, b"" if ok else b'{"code": 50006}')
            if path.startswith("/teams"):
                return self._answer(202 if _teams_ok(received.json) else 400)
            if path.startswith("/ntfy"):
                if not _ntfy_ok(received.json):
                    return self._answer(400, b'{"code":40001}', "application/json")
                body = json.dumps({"id": f"ntfy{count}", "topic": received.json["topic"]})
                return self._answer(200, body.encode(), "application/json")
            if path.startswith("/push/"):
                return self._push(received)
            if path.startswith("/twilio/"):
                return self._twilio(received)
            if path.startswith("/webhook"):
                return self._webhook(received)
            return self._answer(404, b"no such receiver")

        def _twilio(self, received: Received):
            expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                return self._answer(401, b'{"code": 20003}', "application/json")
            if not self.path.endswith(f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"):
                return self._answer(404, b'{"code": 20404}', "application/json")
            form = {k: v[0] for k, v in parse_qs(received.body.decode()).items()}
            received.form = form
            if not form.get("To", "").startswith("+") or not form.get("Body"):
                return self._answer(400, b'{"code": 21211}', "application/json")
            if form["To"] == "+15005550001":  # Twilio's magic "invalid number"
                return self._answer(
                    400, b'{"code": 21211, "message": "invalid To"}', "application/json"
                )
            return self._answer(
                201,
                json.dumps({"sid": "SM" + "0" * 32, "status": "queued"}).encode(),
                "application/json",
            )

        def _push(self, received: Received):
            """A push service: checks the VAPID signature, decrypts the aes128gcm body with
            the subscriber's private key, then answers what the test asked for (201)."""
            subscriber = state.push_subscribers.get(self.path)
            if subscriber is None:
                return self._answer(404, b"no such subscription")
            host, port = self.server.server_address[:2]
            try:
                verify_vapid(
                    self.headers.get("Authorization", ""),
                    state.vapid_public_key,
                    f"http://{host}:{port}",
                )
                received.verified = True
            except (ValueError, KeyError) as exc:
                received.verified = False
                return self._answer(401, f"vapid: {exc}".encode())
            if self.headers.get("Content-Encoding") != "aes128gcm" or not self.headers.get("TTL"):
                return self._answer(400, b"Content-Encoding aes128gcm and TTL are required")
            private_key, auth = subscriber
            try:
                plain = http_ece.decrypt(
                    received.body, private_key=private_key, auth_secret=auth, version="aes128gcm"
                )
            except Exception as exc:
                return self._answer(400, f"cannot decrypt: {exc}".encode())
            received.json = json.loads(plain)
            with state.lock:
                answers = state.push_answers.get(self.path) or [201]
                status = answers.pop(0) if len(answers) > 1 else answers[0]
            headers = {"Location": f"{self.path}/messages/{state.counts[self.path]}"}
            if status == 429:
                headers["Retry-After"] = "0"
            return self._answer(status, b"", headers=headers)

        def _webhook(self, received: Received):
            secret = state.webhook_secrets.get(self.path)
            if secret is None:
                return self._answer(404, b"unknown webhook")
            try:
                Webhook(secret).verify(received.body, received.headers)
                received.verified = True
            except WebhookVerificationError:
                received.verified = False
                return self._answer(401, b"bad signature")
            return self._answer(200, b"received")

    return Handler


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Receivers:
    def __init__(self):
        self.smtp_handler = SmtpHandler()
        self.smtp = Controller(self.smtp_handler, hostname="127.0.0.1", port=_free_port())
        self.http_state = HttpState()
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.http_state))
        self.http.daemon_threads = True
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def start(self):
        self.smtp.start()
        self.thread.start()
        return self

    def stop(self):
        self.http.shutdown()
        self.http.server_close()
        self.smtp.stop()

    @property
    def smtp_port(self) -> int:
        return self.smtp.port

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}{path}"

    @property
    def mails(self) -> list:
        return self.smtp_handler.messages
