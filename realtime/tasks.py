"""Celery tasks of the realtime app."""

from celery import shared_task

from realtime import events, groups


@shared_task(name="realtime.publish_test_event", ignore_result=True)
def publish_test_event(user_id: int, text: str = "hello from a worker") -> None:
    """Send `diagnostic.test` to one user's connections, from a worker.

    For operators checking the whole path a worker's events take (worker -> channel layer ->
    web process -> browser): `celery -A config call realtime.publish_test_event --args='[1]'`
    and watch the /realtime/ page of user 1. Safe to run any number of times.
    """
    events.publish("diagnostic.test", {"text": text}, groups=[groups.user_group(user_id)])
