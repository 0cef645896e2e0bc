"""The API under concurrent reads, beside a plain DRF view doing the same work.

    python bench/api_list.py [--connections 50] [--seconds 8] [--rounds 2] [--workers 1,2]

Gives the bench user 50 workflows, then lists them (`GET /api/v3/workflows/?page_size=50`)
from `wrk` (a separate C process, so the client's CPU is not in the figure) on `--connections`
keep-alive connections, against two servers on the same database and machine, in turns:

- ours: the project's ASGI app under uvicorn, as `bin/web` runs it;
- the peer: a plain DRF `ModelViewSet` (bench/peer/: simplejwt, scoped to the user's
  workspaces, step count annotated, creator joined, paginated with a count), under uvicorn
  with Django's own ASGI handler and middleware.

Each is measured with 1 and with N web processes (`--workers`); the better of `--rounds`
turns counts. Prints ONE JSON line: requests per second and latency p50/p99 of both, the
ratio (ours / peer) per process count, and any non-2xx answers. Goal (issue 17): ratio >= 1.2.
Uses DATABASE_URL if set, else a SQLite file under var/bench/; writes only under var/.
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ws_fanout import VAR, bench_env, start_server  # noqa: E402

LIST = "/api/v3/workflows/?page_size=50"
PEER_APP = "bench.peer.asgi:application"


def prepare(env: dict[str, str], workflows: int) -> str:
    """Migrate the bench database, give the bench user its workflows; return a JWT."""
    from bench.ws_fanout import prepare as prepare_user

    token, _ = prepare_user(env)  # Django is set up from here on
    from accounts.models import User
    from accounts.scoping import Actor
    from accounts.services import personal_workspace
    from workflows import services
    from workflows.models import Workflow

    user = User.objects.get(username="bench-ws")
    workspace = personal_workspace(user)
    for n in range(Workflow.objects.filter(workspace=workspace).count(), workflows):
        services.create_workflow(
            actor=Actor(user),
            workspace=workspace,
            definition={
                "name": f"Listed {n}",
                "description": "A workflow to be listed.",
                "inputs": [{"name": "topic", "type": "string"}],
                "steps": [
                    {"key": "outline", "kind": "generate", "prompt": "Outline {{ inputs.topic }}"},
                    {"key": "post", "kind": "transform", "prompt": "{{ steps.outline.output }}"},
                ],
            },
        )
    return token


def wrk(base: str, token: str, connections: int, seconds: int) -> dict:
    """One wrk run: requests per second, latency p50/p99 (ms), non-2xx answers."""
    out = subprocess.run(  # noqa: S603
        [shutil.which("wrk") or "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
         "--timeout", "30s",
         "-H", f"Authorization: Bearer {token}", f"http://{base}{LIST}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (VAR / "api_list-wrk.txt").open("a").write(out)  # the last runs' raw output, to check
    latency = {
        q: _ms(value) for q, value in re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE)
    }
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": latency.get("50"),
        "p99_ms": latency.get("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return round(float(number) * {"us": 0.001, "ms": 1, "s": 1000}[unit], 2)


def measure(env, token, *, app: str, workers: int, args) -> dict:
    label = "peer" if app == PEER_APP else "ours"
    server_env = env
    if label == "peer":
        server_env = {**env, "DJANGO_SETTINGS_MODULE": "bench.peer.settings"}
    server, base = start_server(
        server_env, VAR / f"api_list-{label}-{workers}.log", app=app, workers=workers
    )
    try:
        wrk(base, token, args.connections, 2)  # warm every process and its connections
        return max(
            (wrk(base, token, args.connections, args.seconds) for _ in range(args.rounds)),
            key=lambda run: run["rps"],
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", default="1,2", help="web process counts to measure")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench/api_list.py needs wrk: apt-get install -y wrk")
    VAR.mkdir(parents=True, exist_ok=True)
    env = bench_env(uuid.uuid4().hex[:8])
    token = prepare(env, 50)
    result = {"bench": "api_list", "connections": args.connections, "listed": 50}
    result["by_processes"] = {}
    for workers in [int(n) for n in args.workers.split(",")]:
        ours = measure(env, token, app="config.asgi:application", workers=workers, args=args)
        peer = measure(env, token, app=PEER_APP, workers=workers, args=args)
        result["by_processes"][str(workers)] = {
            "ours": ours,
            "peer": peer,
            "ratio": round(ours["rps"] / peer["rps"], 3) if peer["rps"] else None,
        }
    first = result["by_processes"][args.workers.split(",")[0]]
    result.update(
        ours_rps=first["ours"]["rps"], peer_rps=first["peer"]["rps"], ratio=first["ratio"]
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
