"""The durable floor for bench/tasks.py: a Celery task that does only what a durable task
record needs and nothing else: claim the row (one committed UPDATE ... RETURNING) and record
its outcome (one committed UPDATE), in plain SQL. Loaded into the worker with `--include
bench.celery_floor`; never part of the application."""

from celery import shared_task
from django.db import connection

CLAIM = (
    'UPDATE "tasks_backgroundtask" SET "status" = \'running\', "attempts" = "attempts" + 1,'
    ' "started_at" = now(), "updated_at" = now() WHERE "id" = %s AND "status" = \'queued\''
    ' RETURNING "id", "attempts", "payload"'
)
FINISH = (
    'UPDATE "tasks_backgroundtask" SET "status" = \'succeeded\', "result" = "payload",'
    ' "finished_at" = now(), "updated_at" = now()'
    ' WHERE "id" = %s AND "status" = \'running\' AND "attempts" = %s'
)


@shared_task(name="bench.floor", ignore_result=True)
def floor(task_id: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(CLAIM, [task_id])
        row = cursor.fetchone()
        if row is not None:
            cursor.execute(FINISH, [task_id, row[1]])
