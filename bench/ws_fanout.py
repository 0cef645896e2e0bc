"""WebSocket fan-out: N clients on P web processes watching one workflow; a worker-like
process publishes its step events.

    python bench/ws_fanout.py [--clients 1000] [--processes 1] [--events 40] [--interval 0.5]

Starts uvicorn with P worker processes (`--workers`, as `bin/web` runs WEB_CONCURRENCY; the
project's ASGI app, Redis channel layer), connects the clients (JWT; all one bench user, so the
per-user connection limit is lifted past the client count), has each join one workflow
(`join_workflow`, answered by its snapshot), then a separate publisher process sends
`step.succeeded` events to the workflow's group through `realtime.events.publish`, as the engine
does, with their send time (`time.time()`) in the data.

The clients run in client processes of their own (`--client-processes`, default one per web
process; uvloop, a minimal WebSocket frame reader and orjson), not in this one, so that what is
measured is the server's delivery: latency is the receive time in the client (when the bytes
reach the client process) minus the publish time in the event, the same clock on the same
machine. The clients still share the machine's cores with the server, so their CPU is not free.

Prints ONE JSON line: connect time, delivery latency p50/p95/p99/max over every
(event, client) pair, messages lost, the web processes' CPU per event during the publishing
(`server_cpu_ms_per_event`: what one event's fan-out costs the web tier) and the clients'
connections per web process.
Goal (DESIGN.md): p99 < 150 ms, nothing lost, for 1,000 clients on one web process and 2,000
over two; 2 events/s x 1,000 clients is 2,000 deliveries/s.
Uses DATABASE_URL if set, else a SQLite file
under var/bench/; REDIS_URL (default db 0) with prefixes of its own. Writes only under var/.
"""

import argparse
import asyncio
import base64
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

try:
    import orjson
except ImportError:  # only the client processes need it
    orjson = None

VAR = BASE_DIR / "var" / "bench"
# As the Procfile runs it: per-message compression off (small JSON events gain little from it,
# and it costs a zlib call per connection per event). BENCH_UVICORN_ARGS replaces these.
GOAL_P99_MS = 150
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
    """A minimal WebSocket client on a bare asyncio transport: the handshake, then the server's
    frames read in place (unmasked, unfragmented, as uvicorn sends them; anything else is an
    error), pings answered, events parsed with orjson. A client process holds hundreds of
    these; websockets' general parser was most of the clients' CPU, which the server shares."""

    def __init__(self, host: str, path: str):
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n\r\n"
        ).encode()
        self.buffer = bytearray()
        self.upgraded = False
        self.received: dict[int, float] = {}  # seq -> latency in ms
        self.connect_ms = 0.0
        self.measuring = False
        self.control: asyncio.Queue = asyncio.Queue()  # events before the measurement
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer
        buffer += data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buffer[: buffer.find(b"\r\n")])
            if not status.startswith(b"HTTP/1.1 101"):
                self.control.put_nowait(ConnectionError(f"handshake refused: {status!r}"))
                return
            del buffer[: end + 4]
            self.upgraded = True
        pos, size = 0, len(buffer)
        while size - pos >= 2:
            first, length = buffer[pos], buffer[pos + 1]
            if first & 0x70 or not first & 0x80 or length & 0x80:
                self.control.put_nowait(ConnectionError("unexpected frame (fragment or mask)"))
                return
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buffer[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buffer[pos + 2 : pos + 10], "big"), 10
            end = pos + head + length
            if end > size:
                break
            opcode, payload = first & 0x0F, bytes(buffer[pos + head : end])
            pos = end
            if opcode == 0x1:
                self.text_received(payload, now)
            elif opcode == 0x9:  # uvicorn's keepalive ping
                self.send_frame(0xA, payload)
            elif opcode == 0x8:
                self.control.put_nowait(ConnectionError(f"closed by the server: {payload!r}"))
        del buffer[:pos]

    def text_received(self, payload: bytes, now: float) -> None:
        message = orjson.loads(payload)
        if not self.measuring:
            self.control.put_nowait(message)
        elif message["type"] == "step.succeeded":
            data = message["data"]
            self.received[data["seq"]] = (now - data["sent_at"]) * 1000

    def send_frame(self, opcode: int, payload: bytes) -> None:
        size, mask = len(payload), os.urandom(4)  # a client masks what it sends
        if size < 126:
            header = bytes((0x80 | opcode, 0x80 | size))
        elif size < 65536:
            header = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
        else:
            header = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
        key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
        masked = (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big")
        self.transport.write(header + mask + masked)

    def connection_lost(self, exc) -> None:
        self.control.put_nowait(ConnectionError(f"connection lost: {exc!r}"))

    async def next_control(self) -> dict:
        item = await self.control.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def send(self, message: dict) -> None:
        self.send_frame(0x1, orjson.dumps(message))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_client(base: str, path: str, workflow_id: int) -> Client:
    host, port = base.split(":")
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: Client(base, path), host, int(port))
    assert (await client.next_control())["type"] == "connection.ready"
    client.send({"type": "join_workflow", "workflow_id": workflow_id})
    while (await client.next_control())["type"] != "workflow.snapshot":
        pass
    client.connect_ms = (time.perf_counter() - started) * 1000
    client.measuring = True
    return client


async def client_process(config: dict) -> None:
    """One client process: connect `count` clients, say so on stdout, wait for the line that
    the publishing is over (it carries the deadline for stragglers), then report what each
    client received. Lines of JSON on stdin/stdout."""
    gate = asyncio.Semaphore(config["concurrency"])

    async def one() -> Client:
        async with gate:
            return await asyncio.wait_for(
                open_client(config["base"], config["path"], config["workflow_id"]), 120
            )

    clients = await asyncio.gather(*(one() for _ in range(config["count"])))
    # The clients' own garbage collector would add its pauses to the measured latency.
    gc.collect()
    gc.freeze()
    gc.disable()
    print(json.dumps({"connect_ms": [c.connect_ms for c in clients]}), flush=True)
    loop = asyncio.get_running_loop()
    deadline = float(await loop.run_in_executor(None, sys.stdin.readline))
    events = config["events"]
    while time.time() < deadline and any(len(c.received) < events for c in clients):
        await asyncio.sleep(0.05)
    gc.enable()
    print(json.dumps({"received": [c.received for c in clients]}), flush=True)
    for client in clients:
        client.close()


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (uvicorn's worker processes)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, ()))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def connections_per_process() -> list[int]:
    """Open connections of each web process, from the statistics they write to Redis."""
    import redis
    from django.conf import settings

    prefix = settings.REALTIME_STATS_PREFIX
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        ids = [raw.decode() for raw in client.zrange(f"{prefix}:procs", 0, -1)]
        counts = [client.hget(f"{prefix}:proc:{pid}", "connections") for pid in ids]
    finally:
        client.close()
    return sorted((int(count) for count in counts if count is not None), reverse=True)


def run(args, env: dict[str, str], token: str, workflow_id: int) -> dict:
    server, base = start_server(env, VAR / "ws_fanout_server.log", workers=args.processes)
    workers: list[subprocess.Popen] = []
    try:
        time.sleep(1)  # uvicorn's worker processes start after its first answer
        server_pids = process_tree(server.pid)
        split = [
            args.clients // args.client_processes + (i < args.clients % args.client_processes)
            for i in range(args.client_processes)
        ]
        started = time.perf_counter()
        for count in split:
            config = {
                "base": base, "path": f"/api/v3/ws/ws?token={token}", "count": count,
                "workflow_id": workflow_id, "events": args.events,
                "concurrency": args.connect_concurrency,
            }  # fmt: skip
            workers.append(
                subprocess.Popen(  # noqa: S603
                    [sys.executable, __file__, "--client-process", json.dumps(config)],
                    env=env,
                    cwd=BASE_DIR,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )  # fmt: skip
            )
        connect_ms = []
        for worker in workers:
            line = worker.stdout.readline()
            if not line:
                raise SystemExit("a client process failed while connecting")
            connect_ms += json.loads(line)["connect_ms"]
        connect_seconds = time.perf_counter() - started
        time.sleep(0.5)  # the statistics are written within 0.1 s of a change
        per_process = connections_per_process()

        server_cpu, clients_cpu = cpu_seconds(server_pids), cpu_seconds([w.pid for w in workers])
        subprocess.run(  # noqa: S603
            [sys.executable, __file__, "--publish", str(workflow_id), "--events",
             str(args.events), "--interval", str(args.interval)],
            env=env, cwd=BASE_DIR, check=True,
        )  # fmt: skip
        server_cpu = cpu_seconds(server_pids) - server_cpu
        clients_cpu = cpu_seconds([w.pid for w in workers]) - clients_cpu
        # Give the last event time to arrive; stragglers after that count as lost.
        deadline = time.time() + args.grace
        received: list[dict[str, float]] = []
        for worker in workers:
            worker.stdin.write(f"{deadline}\n")
            worker.stdin.flush()
        for worker in workers:
            line = worker.stdout.readline()
            if not line:
                raise SystemExit("a client process failed while measuring")
            received += json.loads(line)["received"]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

    latencies = [ms for client in received for ms in client.values()]
    by_event = {}
    for client in received:
        for seq, ms in client.items():
            by_event.setdefault(int(seq), []).append(ms)
    # Each event's spread, to tell a slow event (a pause) from a slow fan-out.
    with open(VAR / "ws_fanout_events.json", "w") as out:
        json.dump(
            {
                seq: {"min": min(v), "p50": percentile(v, 50), "max": max(v), "n": len(v)}
                for seq, v in sorted(by_event.items())
            },
            out,
            indent=1,
        )
    expected = args.clients * args.events
    p99 = percentile(latencies, 99)
    return {
        "bench": "ws_fanout",
        "clients": args.clients,
        "processes": args.processes,
        "client_processes": args.client_processes,
        "events": args.events,
        "interval_s": args.interval,
        "uvicorn_args": " ".join(SERVER_ARGS),
        "channel_layer": channel_layer_backend(),
        "connections_per_process": per_process,
        "connect_total_s": round(connect_seconds, 3),
        "connect_ms_p50": round(statistics.median(connect_ms), 1),
        "connect_ms_p99": round(percentile(connect_ms, 99), 1),
        "latency_ms_p50": round(percentile(latencies, 50), 1),
        "latency_ms_p95": round(percentile(latencies, 95), 1),
        "latency_ms_p99": round(p99, 1),
        "latency_ms_max": round(max(latencies), 1) if latencies else None,
        "delivered": len(latencies),
        "lost": expected - len(latencies),
        "server_cpu_ms_per_event": round(server_cpu * 1000 / args.events, 1),
        "clients_cpu_ms_per_event": round(clients_cpu * 1000 / args.events, 1),
        "goal_p99_ms": GOAL_P99_MS,
        "within_goal": bool(latencies) and p99 < GOAL_P99_MS and len(latencies) == expected,
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
    parser.add_argument("--processes", type=int, default=1, help="web (uvicorn) processes")
    parser.add_argument(
        "--client-processes", type=int, help="processes the clients run in (default: --processes)"
    )
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between events")
    parser.add_argument(
        "--connect-concurrency", type=int, default=50, help="connects in flight per client process"
    )
    parser.add_argument("--grace", type=float, default=10.0, help="seconds to wait at the end")
    parser.add_argument("--publish", type=int, metavar="WORKFLOW_ID", help=argparse.SUPPRESS)
    parser.add_argument("--client-process", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_file_limit()
    if args.publish is not None:
        publish(args.publish, args.events, args.interval)
        return
    if args.client_process is not None:
        import uvloop

        uvloop.run(client_process(json.loads(args.client_process)))
        return
    args.client_processes = args.client_processes or args.processes
    VAR.mkdir(parents=True, exist_ok=True)
    env = bench_env(uuid.uuid4().hex[:8])
    # Every client is the one bench user: the per-user limit (100 by default) would refuse
    # all but the first 100.
    env["REALTIME_MAX_CONNECTIONS"] = str(args.clients + 100)
    token, workflow_id = prepare(env)  # sync ORM work
    print(json.dumps(run(args, env, token, workflow_id)))


def raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))


if __name__ == "__main__":
    main()
