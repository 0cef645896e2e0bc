"""Latency of the AI gateway through ai.services.complete: an offline call, and a cache miss
and hit of a real model (the tests' local OpenAI-compatible server on 127.0.0.1; the offline
model is never cached).

Prints ONE JSON line. Runs on a throwaway database (PostgreSQL `bench_ai_<name>` when
DATABASE_URL is set, else var/bench-ai.sqlite3), dropped at the end, and its own Redis key
namespace; writes nothing outside var/.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/docchain python bench/ai.py [--n 300]
"""

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

from config.stats import percentile  # noqa: E402


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50": round(percentile(ordered, 0.50), 3), "p95": round(percentile(ordered, 0.95), 3)}


def timed(call, n: int) -> list[float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from bench.support import throwaway_database

    vendor = connection.vendor
    settings.AI_CACHE_PREFIX = f"bench-ai-{uuid.uuid4().hex[:8]}"
    settings.OFFLINE_LLM_LATENCY_MS = 0
    with throwaway_database("ai"):
        from accounts import services as accounts
        from ai import services

        user = accounts.register_user(
            username="bench", password="Bench-password-42", email="bench@example.com"
        )
        workspace = accounts.personal_workspace(user)

        def call(prompt: str, **kw):
            return services.complete(workspace=workspace, user=user, prompt=prompt, **kw)

        started = time.perf_counter()
        call("warm up: loads litellm and the tokenizer", use_cache=False)
        first_call_s = time.perf_counter() - started
        for i in range(20):
            call(f"warm {i}", use_cache=False)

        prompt = "Write a short report on {topic} for the operations team, with next steps."
        offline = timed(lambda i: call(prompt.format(topic=f"topic {i}"), use_cache=False), args.n)

        from ai.tests.conftest import FakeOpenAI

        server = FakeOpenAI()
        server.thread.start()
        settings.LOCAL_LLM_BASE_URL = server.base_url
        settings.LOCAL_LLM_MODELS = ["tiny"]
        try:
            call("warm up the HTTP path", model="local/tiny", use_cache=False)
            local = "local/tiny"
            miss = timed(lambda i: call(prompt.format(topic=f"s{i}"), model=local), args.n)
            call(prompt.format(topic="the cache"), model=local)
            hit = timed(lambda i: call(prompt.format(topic="the cache"), model=local), args.n)
            assert call(prompt.format(topic="the cache"), model=local).cached
        finally:
            server.server.shutdown()

        settings.AI_OFFLINE_VIA_LITELLM = True
        call("warm via litellm", use_cache=False)
        via = timed(lambda i: call(prompt.format(topic=f"litellm {i}"), use_cache=False), args.n)
        settings.AI_OFFLINE_VIA_LITELLM = False

    print(
        json.dumps(
            {
                "bench": "ai",
                "database": vendor,
                "n": args.n,
                "offline_call_ms": percentiles(offline),
                "local_call_cache_miss_ms": percentiles(miss),
                "cache_hit_ms": percentiles(hit),
                "offline_via_litellm_ms": percentiles(via),
                "first_call_s": round(first_call_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
