"""WebSocket fan-out: N clients on one web process watching one workflow; a worker-like
process publishes its step events.

    python bench/ws_fanout.py [--clients 1000] [--events 40] [--interval 0.5]

Starts one uvicorn web process (the project's ASGI app, Redis channel layer), connects the
clients (JWT), has each join one workflow (`join_workflow`, answered by its snapshot), then a
separate publisher process sends `step.succeeded` events to the workflow's group through
`realtime.events.publish`, as the engine does, with their send time in the data. Prints ONE
JSON line: connect time, delivery latency p50/p95/p99/max over every (event, client) pair,
and messages lost.
Budget (DESIGN.md): p99 < 250 ms, nothing lost. The clients run in this one Python process, so
their own work is part of the latency measured; 2 events/s x 1,000 clients is 2,000 deliveries/s.
Uses DATABASE_URL if set, else a SQLite file
under var/bench/; REDIS_URL (default db 0) with prefixes of its own. Writes only under var/.
"""

import argparse
import asyncio
import gc
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
from config import stats  # noqa: E402

VAR = BASE_DIR / "var" / "bench"
# As the Procfile runs it: per-message compression off (small JSON events gain little from it,
# and it costs a zlib call per connection per event). BENCH_UVICORN_ARGS replaces these.
SERVER_ARGS = os.environ.get("BENCH_UVICORN_ARGS", "--ws-per-message-deflate false").split()


def percentile(values: list[float], q: float) -> float:
    value = stats.percentile(sorted(values), q / 100)
    return float("nan") if value is None else value


def bench_env(run_id: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "console",
        "CHANNEL_PREFIX": f"bench-{run_id}",
        "REALTIME_STATS_PREFIX": f"bench-{run_id}:ws-stats",
        "PYTHONUNBUFFERED": "1",
    }
    env.setdefault("DATABASE_URL", f"sqlite:///{VAR / 'ws_fanout.sqlite3'}")
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def prepare(env: dict[str, str]) -> tuple[str, int]:
    """Migrate the bench database; return a JWT and a workflow of the bench user."""
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )
    setup_django(env)
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts import services, sessions
    from accounts.models import User
    from accounts.scoping import Actor
    from workflows import services as workflow_services

    user = User.objects.filter(username="bench-ws").first() or services.register_user(
        username="bench-ws", password=f"Bench-{uuid.uuid4().hex}", email="bench@example.com"
    )
    token = AccessToken(sessions.issue_tokens(user=user)["access"])
    token.set_exp(lifetime=__import__("datetime").timedelta(hours=1))
    workflow = workflow_services.create_workflow(
        actor=Actor(user),
        workspace=services.personal_workspace(user),
        definition={"name": "Fan-out", "steps": [{"key": "a", "kind": "transform", "prompt": "x"}]},
    )
    return str(token), workflow.pk


def start_server(
    env: dict[str, str],
    log_path: Path,
    *,
    app: str = "config.asgi:application",
    workers: int = 1,
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--workers", str(workers),
         "--port", str(port), "--lifespan", "off", "--log-level", "warning", "--no-access-log",
         *SERVER_ARGS],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{base}/health", timeout=1):  # noqa: S310
                return process, base
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    raise SystemExit(f"uvicorn did not start; see {log_path}")


class Client(asyncio.Protocol):
    """A minimal WebSocket client: websockets' sans-I/O protocol on a bare asyncio transport.
    The bench's 1,000 clients share one process; the asyncio client (a task and a future per
    message) made the harness itself a large part of the latency it measured."""

    def __init__(self, url: str):
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        self.protocol = ClientProtocol(parse_uri(url), max_size=None)
        self.received: dict[int, float] = {}  # seq -> latency in ms
        self.connect_ms = 0.0
        self.measuring = False
        self.control: asyncio.Queue = asyncio.Queue()  # events before the measurement
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.protocol.send_request(self.protocol.connect())
        self._flush()

    def _flush(self) -> None:
        data = self.protocol.data_to_send()
        if data and not self.transport.is_closing():
            self.transport.write(b"".join(data))

    def data_received(self, data: bytes) -> None:
        from websockets.frames import Frame, Opcode

        now = time.time()
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if not isinstance(event, Frame):  # the handshake's response
                if self.protocol.handshake_exc is not None:
                    self.control.put_nowait(self.protocol.handshake_exc)
            elif event.opcode is Opcode.TEXT:
                if self.measuring:
                    message = json.loads(event.data)
                    if message["type"] == "step.succeeded":
                        payload = message["data"]
                        self.received[payload["seq"]] = (now - payload["sent_at"]) * 1000
                else:
                    self.control.put_nowait(json.loads(event.data))
        self._flush()

    def connection_lost(self, exc) -> None:
        self.control.put_nowait(ConnectionError(f"connection lost: {exc!r}"))

    async def next_control(self) -> dict:
        item = await self.control.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def send(self, message: dict) -> None:
        self.protocol.send_text(json.dumps(message).encode())
        self._flush()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_client(base: str, url: str, workflow_id: int) -> Client:
    host, port = base.split(":")
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: Client(url), host, int(port))
    assert (await client.next_control())["type"] == "connection.ready"
    client.send({"type": "join_workflow", "workflow_id": workflow_id})
    while (await client.next_control())["type"] != "workflow.snapshot":
        pass
    client.connect_ms = (time.perf_counter() - started) * 1000
    client.measuring = True
    return client


async def run(args, env: dict[str, str], token: str, workflow_id: int) -> dict:
    server, base = start_server(env, VAR / "ws_fanout_server.log")
    try:
        url = f"ws://{base}/api/v3/ws/ws?token={token}"
        gate = asyncio.Semaphore(args.connect_concurrency)

        async def one() -> Client:
            async with gate:
                return await asyncio.wait_for(open_client(base, url, workflow_id), 120)

        started = time.perf_counter()
        clients = await asyncio.gather(*(one() for _ in range(args.clients)))
        connect_seconds = time.perf_counter() - started

        # The harness's own garbage collector would add its pauses to the measured latency.
        gc.collect()
        gc.freeze()
        gc.disable()
        publisher = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--publish", str(workflow_id), "--events",
            str(args.events), "--interval", str(args.interval), env=env, cwd=BASE_DIR,
        )  # fmt: skip
        await publisher.wait()
        # Give the last event time to arrive; stragglers after that count as lost.
        deadline = time.monotonic() + args.grace
        while time.monotonic() < deadline and any(len(c.received) < args.events for c in clients):
            await asyncio.sleep(0.05)
        gc.enable()
        for client in clients:
            client.close()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

    latencies = [ms for c in clients for ms in c.received.values()]
    expected = args.clients * args.events
    connect_ms = [c.connect_ms for c in clients]
    return {
        "bench": "ws_fanout",
        "clients": args.clients,
        "events": args.events,
        "interval_s": args.interval,
        "uvicorn_args": " ".join(SERVER_ARGS),
        "channel_layer": channel_layer_backend(),
        "connect_total_s": round(connect_seconds, 3),
        "connect_ms_p50": round(statistics.median(connect_ms), 1),
        "connect_ms_p99": round(percentile(connect_ms, 99), 1),
        "latency_ms_p50": round(percentile(latencies, 50), 1),
        "latency_ms_p95": round(percentile(latencies, 95), 1),
        "latency_ms_p99": round(percentile(latencies, 99), 1),
        "latency_ms_max": round(max(latencies), 1) if latencies else None,
        "delivered": len(latencies),
        "lost": expected - len(latencies),
        "budget_p99_ms": 250,
        "within_budget": bool(latencies)
        and percentile(latencies, 99) < 250
        and len(latencies) == expected,
        "cpus": os.cpu_count(),
    }


def channel_layer_backend() -> str:
    from django.conf import settings

    return settings.CHANNEL_LAYERS["default"]["BACKEND"]


def publish(workflow_id: int, events: int, interval: float) -> None:
    """The publisher process: `realtime.events.publish` to the workflow's group, as a worker
    running its steps would."""
    setup_django({})
    from realtime import events as realtime_events
    from realtime import groups

    group = groups.workflow_group(workflow_id)
    for seq in range(events):
        realtime_events.publish(
            "step.succeeded",
            {"workflow_id": workflow_id, "step_key": "a", "seq": seq, "sent_at": time.time()},
            groups=[group],
        )
        time.sleep(interval)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between events")
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--grace", type=float, default=10.0, help="seconds to wait at the end")
    parser.add_argument("--publish", type=int, metavar="WORKFLOW_ID", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish is not None:
        publish(args.publish, args.events, args.interval)
        return
    VAR.mkdir(parents=True, exist_ok=True)
    env = bench_env(uuid.uuid4().hex[:8])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    token, workflow_id = prepare(env)  # sync ORM work, before the event loop starts
    print(json.dumps(asyncio.run(run(args, env, token, workflow_id))))


if __name__ == "__main__":
    main()
