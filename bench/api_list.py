"""The API under concurrent reads: clients listing a workspace's 50 workflows at once.

    python bench/api_list.py [--clients 50] [--requests 40] [--workflows 50]

Starts one uvicorn web process (the project's ASGI app, as the Procfile runs it), gives the
bench user `--workflows` workflows, then `--clients` clients, each on its own keep-alive
connection with its own JWT request header, send `GET /api/v3/workflows/?page_size=50`
back to back, `--requests` times each, all at once. Prints ONE JSON line: latency
p50/p95/p99/max over every request, requests per second, and any non-200 answers.
Budget (DESIGN.md): p99 < 100 ms with 50 concurrent clients. The clients share this one
Python process (and the machine's cores) with the server, so their own work is part of
what is measured. Uses DATABASE_URL if set, else a SQLite file under var/bench/; writes only
under var/.
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ws_fanout import VAR, bench_env, percentile, start_server  # noqa: E402

LIST = "/api/v3/workflows/?page_size=50"


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


async def client(base: str, token: str, requests: int, start: asyncio.Event) -> list:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    timings, failures = [], []
    async with httpx.AsyncClient(base_url=f"http://{base}", headers=headers) as http:
        await http.get(LIST)  # the connection, opened before the clock starts
        await start.wait()
        for _ in range(requests):
            started = time.perf_counter()
            response = await http.get(LIST)
            timings.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                failures.append(response.status_code)
    return [timings, failures]


async def run(args, base: str, token: str) -> dict:
    start = asyncio.Event()
    tasks = [
        asyncio.create_task(client(base, token, args.requests, start)) for _ in range(args.clients)
    ]
    await asyncio.sleep(1.0)  # every client connected and warm
    began = time.perf_counter()
    start.set()
    results = await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    timings = [t for ts, _ in results for t in ts]
    failures = [f for _, fs in results for f in fs]
    return {
        "bench": "api_list",
        "clients": args.clients,
        "requests": len(timings),
        "workflows_listed": 50,
        "latency_ms": {
            "p50": round(statistics.median(timings), 2),
            "p95": round(percentile(timings, 95), 2),
            "p99": round(percentile(timings, 99), 2),
            "max": round(max(timings), 2),
        },
        "requests_per_second": round(len(timings) / elapsed, 1),
        "failures": {str(code): failures.count(code) for code in sorted(set(failures))},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40, help="per client")
    parser.add_argument("--workflows", type=int, default=50)
    args = parser.parse_args()
    VAR.mkdir(parents=True, exist_ok=True)
    env = bench_env(uuid.uuid4().hex[:8])
    token = prepare(env, max(args.workflows, 50))
    server, base = start_server(env, VAR / "api_list-server.log")
    try:
        print(json.dumps(asyncio.run(run(args, base, token))))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
