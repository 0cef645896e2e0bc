"""What `realtime.events.publish` costs its caller, through the Redis channel layer, against
the former way (`async_to_sync(apublish)` per event: a fresh loop and fresh connections).

Prints ONE JSON line. Needs Redis (REDIS_URL; nothing else).

    REDIS_URL=redis://127.0.0.1:6379/8 python bench/publish.py [--events 500]

"before_ms" is the mean time per call the old way; "after_call_ms" the mean time a call
holds up its caller now; "after_total_ms" includes waiting (`drain()`) until every event
has been sent, i.e. the publisher's own throughput.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ["CHANNEL_LAYER"] = "redis"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=500)
    args = parser.parse_args()

    import django

    django.setup()
    from asgiref.sync import async_to_sync

    from realtime import events

    groups = ["bench.publish.a", "bench.publish.b"]
    data = {"run_id": 1, "step_key": "outline", "status": "succeeded"}

    async_to_sync(events.apublish)("warm", data, groups=groups)
    started = time.perf_counter()
    for _ in range(args.events):
        async_to_sync(events.apublish)("bench", data, groups=groups)
    before = time.perf_counter() - started

    events.publish("warm", data, groups=groups)
    assert events.drain(timeout=60)
    started = time.perf_counter()
    for _ in range(args.events):
        events.publish("bench", data, groups=groups)
    handed = time.perf_counter() - started
    assert events.drain(timeout=120)
    total = time.perf_counter() - started

    print(
        json.dumps(
            {
                "bench": "realtime_publish",
                "events": args.events,
                "groups_per_event": len(groups),
                "before_ms": round(before * 1000 / args.events, 3),
                "after_call_ms": round(handed * 1000 / args.events, 3),
                "after_total_ms": round(total * 1000 / args.events, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
