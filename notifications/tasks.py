"""Celery tasks of notifications: thin wrappers with stable names, safe to run twice (a
delivery is claimed by a conditional update).

A database that cannot be reached (PostgreSQL out of connections, a restart) is retried with
backoff instead of dropping the message: before the claim nothing changed, and after it the
claimed rows are `sending`, which a retry does not claim again (the sweep settles them), so a
retry never sends twice. Without it the rows would wait for the sweep's resend."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from notifications import runner

DATABASE_DOWN = (OperationalError, InterfaceError)
RETRY = {
    "autoretry_for": DATABASE_DOWN,
    "retry_backoff": 1,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="notifications.deliver", ignore_result=True, acks_late=True, **RETRY)
def deliver(delivery_id: str) -> str:
    return runner.deliver(delivery_id)


@shared_task(name="notifications.deliver_batch", ignore_result=True, acks_late=True, **RETRY)
def deliver_batch(delivery_ids: list[str]) -> dict:
    return runner.deliver_many(delivery_ids)
