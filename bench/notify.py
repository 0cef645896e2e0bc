"""Webhook deliveries per second: N signed webhook notifications sent through the API
(bulk), delivered by a real worker subprocess to a local HTTP receiver, next to N bare
Celery tasks that sign and POST the same payload to the same receiver on the same worker.

Both paths are timed the same way: until the receiver has verified N signed requests; ours
then also waits until every delivery row says `sent` (the outcome is recorded, not only
posted).

Prints ONE JSON line. Runs on a throwaway database (PostgreSQL `bench_notify_<name>` when
DATABASE_URL is set, else var/bench-notify.sqlite3), dropped at the end; the broker is the
REDIS_URL Redis (its queues are purged first).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/docchain REDIS_URL=redis://127.0.0.1:6379/3 \
        python bench/notify.py [--n 1000] [--concurrency 2]
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
os.environ["NOTIFICATIONS_ALLOW_PRIVATE_URLS"] = "true"  # the receiver is on 127.0.0.1
os.environ["NOTIFICATIONS_RATE_PER_WORKSPACE"] = "1000000"
os.environ["NOTIFICATIONS_RATE_PER_CHANNEL"] = "1000000"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()

    import django

    django.setup()
    from bench.support import throwaway_database, worker
    from notifications.tests.receivers import Receivers

    receivers = Receivers().start()
    try:
        with (
            throwaway_database("notify") as connection,
            worker(
                "notify",
                concurrency=args.concurrency,
                include=("bench.notify_bare",),
                env={"CHANNEL_LAYER": "redis"},  # the worker announces deliveries for real
            ),
        ):
            print(json.dumps(measure(args, receivers, connection.vendor)))
    finally:
        receivers.stop()


def measure(args, receivers, database: str) -> dict:
    from django.conf import settings
    from rest_framework.test import APIClient

    from accounts import services as accounts
    from config.celery_app import app
    from config.testing import wait_until
    from notifications.models import Delivery, DeliveryStatus

    user = accounts.register_user(
        username="bench", password="Bench-password-42", email="bench@example.com"
    )
    workspace = accounts.personal_workspace(user)
    client = APIClient(HTTP_HOST="localhost")
    client.force_authenticate(user)
    path = f"/webhook/{uuid.uuid4().hex}"
    made = client.post(
        "/api/v3/notifications/channels/",
        {
            "workspace": workspace.pk,
            "kind": "webhook",
            "name": "bench",
            "config": {"url": receivers.url(path)},
        },
        format="json",
    )
    if made.status_code != 201:
        raise SystemExit(f"bench: channel answered {made.status_code}: {made.content}")
    secret = made.json()["secrets_shown_once"]["signing_secret"]
    receivers.http_state.webhook_secrets[path] = secret
    state = receivers.http_state

    def verified() -> int:
        with state.lock:
            return sum(1 for r in state.requests if r.verified)

    def bare(n: int) -> float:
        before = verified()
        started = time.perf_counter()
        with app.producer_or_acquire() as producer:
            for i in range(n):
                payload = {"type": "notification", "data": {"subject": "Bench", "message": f"m{i}"}}
                app.send_task(
                    "bench.notify_post",
                    args=[receivers.url(path), secret, f"msg_bare_{i}", payload],
                    queue="default",
                    producer=producer,
                )
        wait_until(lambda: verified() >= before + n, timeout=600, message="the bare posts")
        return time.perf_counter() - started

    timings: dict[str, float] = {}

    def ours(n: int) -> float:
        before = verified()
        Delivery.objects.all().delete()
        chunk = settings.NOTIFICATIONS_BULK_LIMIT
        started = time.perf_counter()
        for first in range(0, n, chunk):
            items = [
                {"channel": "webhook", "subject": "Bench", "message": f"m{i}"}
                for i in range(first, min(n, first + chunk))
            ]
            response = client.post(
                "/api/v3/advanced/notifications/bulk",
                {"workspace": workspace.pk, "notifications": items},
                format="json",
            )
            if response.status_code != 202:
                raise SystemExit(f"bench: bulk answered {response.status_code}")
        timings["submit"] = time.perf_counter() - started
        wait_until(lambda: verified() >= before + n, timeout=600, message="the deliveries")

        def all_sent():
            left = Delivery.objects.exclude(status=DeliveryStatus.SENT)
            if left.filter(status=DeliveryStatus.FAILED).exists():
                raise SystemExit("bench: a delivery failed")
            return not left.exists()

        wait_until(all_sent, timeout=60, message="every delivery recorded as sent", interval=0.01)
        return time.perf_counter() - started

    bare(50)  # warm up both paths
    ours(50)
    bare_s = bare(args.n)
    ours_s = ours(args.n)
    return {
        "bench": "notify",
        "n": args.n,
        "database": database,
        "worker": f"prefork x{args.concurrency}",
        "receiver": "stdlib http.server, Standard Webhooks signature verified",
        "bare_celery_posts_per_s": round(args.n / bare_s, 1),
        "ours_webhook_deliveries_per_s": round(args.n / ours_s, 1),
        "ratio_ours_to_bare": round(bare_s / ours_s, 3),
        "bare_seconds": round(bare_s, 3),
        "ours_seconds": round(ours_s, 3),
        "ours_api_submit_seconds": round(timings["submit"], 3),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    main()
