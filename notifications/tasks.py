"""Celery tasks of notifications: thin wrappers with stable names, safe to run twice (a
delivery is claimed by a conditional update)."""

from celery import shared_task

from notifications import runner


@shared_task(name="notifications.deliver", ignore_result=True, acks_late=True)
def deliver(delivery_id: str) -> str:
    return runner.deliver(delivery_id)


@shared_task(name="notifications.deliver_batch", ignore_result=True, acks_late=True)
def deliver_batch(delivery_ids: list[str]) -> dict:
    return runner.deliver_many(delivery_ids)
