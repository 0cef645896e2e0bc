"""The Celery app: `celery -A config worker -Q high,default,low` and `celery -A config beat`."""

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("docchain")
app.config_from_object("django.conf:settings", namespace="CELERY")

# Three queues, one per priority. A worker started with -Q high,default,low drains `high`
# first; operators may also run dedicated workers per queue.
QUEUE_FOR_PRIORITY = {"high": "high", "normal": "default", "low": "low"}
_exchange = Exchange("docchain", type="direct")
app.conf.task_queues = [
    Queue(name, _exchange, routing_key=name) for name in ("high", "default", "low")
]
app.conf.task_default_exchange = "docchain"
app.conf.task_default_routing_key = "default"
app.autodiscover_tasks()
