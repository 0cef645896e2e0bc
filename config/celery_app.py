"""The Celery app: `celery -A config worker -Q high,default,low` and `celery -A config beat`."""

import gc
import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_before_create_process
from kombu import Exchange, Queue

from config import kombu_fixes

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

kombu_fixes.install()  # a worker survives a Redis restart (see the module)
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
# Settings Celery reads for every message it sends.
_READ_PER_MESSAGE = (
    "task_repr_maxlevels",
    "task_always_eager",
    "task_send_sent_event",
    "broker_pool_acquire_timeout",
)


@app.on_after_configure.connect
def _keep_settings_read_per_message(sender, **kwargs) -> None:
    """Keep their values in Celery's own settings: looked up through Django's settings, each
    (left at Celery's default) first failed there under two names, and those failures were a
    tenth of a bulk submit's time. After configuration (lazy), not at import: reading Celery's
    settings at import would load Django's before a process has set its environment."""
    sender.conf.update({key: sender.conf[key] for key in _READ_PER_MESSAGE})


app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(**kwargs) -> None:
    """What Django does around each request: close database connections that are broken or
    past CONN_MAX_AGE (the others are kept: see CELERY_DB_REUSE_MAX in settings)."""
    from django.db import close_old_connections

    close_old_connections()


@worker_before_create_process.connect
def _freeze_before_fork(**kwargs) -> None:
    """Before the parent forks a pool child, everything it has loaded (Django, the apps,
    litellm, the embedding model: some million objects) goes out of the garbage collector's
    sight, as Python's docs advise for a pre-fork server. A full collection then scans only
    what came later: in the parent, which hands every message to the children, one took
    ~0.3 s on this 2-core machine, with both children waiting for work meanwhile; in a
    child it would also copy every page it touched. (The web process does the same:
    config/asgi.py.)"""
    gc.freeze()
