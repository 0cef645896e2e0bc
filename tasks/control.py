"""The Celery side of the service: queue depths from the broker, live workers and remote
control (pool size, which queues a worker consumes). Staff operate it through the API."""

import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from config.celery_app import QUEUE_FOR_PRIORITY
from config.celery_app import app as celery_app
from tasks.errors import ControlRefused, ControlUnavailable, WorkerNotFound

logger = logging.getLogger(__name__)

QUEUES = tuple(dict.fromkeys(QUEUE_FOR_PRIORITY.values()))


def queue_depths() -> dict[str, int | None]:
    """Messages waiting in each queue, as the broker counts them (tasks held by workers with
    an eta are not in the queue any more). None if the broker did not answer."""
    depths: dict[str, int | None] = {}
    try:
        with celery_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1)
            for queue in QUEUES:
                channel = conn.channel()
                try:
                    _, count, _ = channel.queue_declare(queue=queue, passive=True)
                    depths[queue] = count
                except Exception:  # a queue nothing was ever sent to does not exist yet
                    depths[queue] = 0
                finally:
                    with contextlib.suppress(Exception):  # closing a broken channel
                        channel.close()
    except Exception:
        logger.warning("broker did not answer a queue-depth check", exc_info=True)
        return dict.fromkeys(QUEUES)
    return depths


def _inspect(destination: list[str] | None = None):
    return celery_app.control.inspect(
        timeout=settings.TASKS_INSPECT_TIMEOUT, destination=destination
    )


def live_workers(destination: list[str] | None = None) -> list[dict]:
    """Workers that answered: name, pool, concurrency, queues and active tasks."""
    inspect = _inspect(destination)
    calls = {"stats": inspect.stats, "active": inspect.active, "queues": inspect.active_queues}
    try:
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            futures = {name: pool.submit(call) for name, call in calls.items()}
            replies = {name: future.result() or {} for name, future in futures.items()}
    except Exception as exc:
        raise ControlUnavailable() from exc
    workers = []
    for name in sorted(set(replies["stats"]) | set(replies["active"])):
        stats = replies["stats"].get(name, {})
        pool = stats.get("pool", {})
        active = replies["active"].get(name, [])
        workers.append(
            {
                "name": name,
                "pool": pool.get("implementation", "").rsplit(":", 1)[-1] or None,
                "concurrency": pool.get("max-concurrency"),
                "processes": len(pool.get("processes", [])) or None,
                "queues": [q["name"] for q in replies["queues"].get(name, [])],
                "active_tasks": len(active),
                "active": [
                    {
                        "id": t.get("id"),
                        "name": t.get("name"),
                        "args": t.get("args"),
                        "started": t.get("time_start"),
                    }
                    for t in active
                ],
                "processed": sum((stats.get("total") or {}).values()),
                "uptime_seconds": stats.get("uptime"),
            }
        )
    return workers


def _reply_of(replies: list[dict], worker: str) -> dict:
    for reply in replies or []:
        if worker in reply:
            return reply[worker]
    raise WorkerNotFound(details={"worker": [f"No live worker named {worker!r} answered."]})


def _known(worker: str) -> None:
    replies = celery_app.control.ping(destination=[worker], timeout=settings.TASKS_INSPECT_TIMEOUT)
    _reply_of(replies, worker)


def resize_pool(*, worker: str, action: str, n: int = 1) -> dict:
    """Grow or shrink a worker's pool by n processes (prefork; the threads pool cannot)."""
    _known(worker)
    call = celery_app.control.pool_grow if action == "grow" else celery_app.control.pool_shrink
    reply = _reply_of(
        call(n, destination=[worker], reply=True, timeout=settings.TASKS_INSPECT_TIMEOUT), worker
    )
    if "error" in reply:  # e.g. the threads and solo pools cannot be resized
        raise ControlRefused(f"{worker}: {reply['error']}", details={"worker": worker, **reply})
    return {"worker": worker, "action": action, "n": n, "reply": reply}


def set_consuming(*, queue: str, consume: bool, worker: str | None = None) -> list[dict]:
    """Start (add_consumer) or stop (cancel_consumer) consuming `queue`, on one worker or all."""
    destination = [worker] if worker else None
    if worker:
        _known(worker)
    if consume:
        replies = celery_app.control.add_consumer(
            queue,
            exchange="docchain",
            exchange_type="direct",
            routing_key=queue,
            destination=destination,
            reply=True,
            timeout=settings.TASKS_INSPECT_TIMEOUT,
        )
    else:
        replies = celery_app.control.cancel_consumer(
            queue, destination=destination, reply=True, timeout=settings.TASKS_INSPECT_TIMEOUT
        )
    return [{"worker": name, "reply": reply} for r in replies or [] for name, reply in r.items()]
