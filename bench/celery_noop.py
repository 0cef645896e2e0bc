"""The baseline for bench/engine.py: a no-op task, loaded into the worker with
`--include bench.celery_noop`, never part of the application."""

import time

from celery import shared_task
from django.conf import settings


@shared_task(name="bench.noop", ignore_result=True)
def noop(key: str, index: int) -> None:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.rpush(key, f"{index}:{time.time()}")
