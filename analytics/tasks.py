"""Celery tasks of analytics: thin wrappers with stable names."""

from celery import shared_task

from analytics import services


@shared_task(name="analytics.push_live_counters", ignore_result=True, queue="default")
def push_live_counters(workspace_id: int) -> None:
    services.push_live_counters(workspace_id=workspace_id)
