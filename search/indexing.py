"""When documents get indexed: after the transaction that finishes a run commits
(workflows.signals.runs_finished), the run joins a Redis set of runs waiting to be indexed, and
the first run of a quiet period also sends one `search.index_runs` message on the `low` queue,
due SEARCH_INDEX_BATCH_SECONDS later, which indexes every run in the set by then. Runs that
finish together (a hundred chains started at once) cost one message and one round of queries,
not one each. In the CLI's `--inline` mode (no broker), at once in this process.

Nothing waits forever: a run added while a message is due is taken by that message (due when
the marker expires, so after the add); a message that could not be sent, a worker killed while
indexing or a Redis restarted empty leave documents without chunks, which the beat job (the
`search.index_pending` task type, every SEARCH_INDEX_SWEEP_SECONDS) and
`manage.py search_backfill` find.
"""

import logging
from functools import cache

import redis
from django.conf import settings
from django.core.cache import cache as django_cache

from config import redisconn

logger = logging.getLogger(__name__)

WAITING = "search:index:runs"  # the set of finished runs not indexed yet
DUE = "search:index:due"  # present while a message for them is due
TAKE_AT_ONCE = 500  # runs a message takes from the set per round


@cache
def _redis() -> redis.Redis:
    return redisconn.client()


def _key(name: str) -> str:
    return django_cache.make_key(name)  # the deployment's cache prefix


def on_runs_finished(sender, run_ids, dispatcher=None, **kwargs) -> None:
    if not settings.SEARCH_INDEX_ON_RUN_FINISH or not run_ids:
        return
    from search import tasks

    if getattr(dispatcher, "in_process", False):
        tasks.index_runs(run_ids)  # the run ran in this process (--inline): no broker
        return
    try:
        if wait_for_batch(run_ids):
            tasks.index_runs.apply_async(
                countdown=settings.SEARCH_INDEX_BATCH_SECONDS, queue=tasks.QUEUE, retry=False
            )
    except Exception:
        # Not lost: the index_pending beat job finds documents with no chunks.
        logger.warning("could not queue indexing for runs %s", run_ids, exc_info=True)


def wait_for_batch(run_ids) -> bool:
    """Add the runs to the waiting set; True when no message is due for it yet, so the caller
    sends one (due when the marker set here expires)."""
    due_in_ms = max(1, round(settings.SEARCH_INDEX_BATCH_SECONDS * 1000))
    with _redis().pipeline() as pipe:  # MULTI/EXEC: the add and the marker together
        pipe.sadd(_key(WAITING), *run_ids)
        pipe.set(_key(DUE), 1, nx=True, px=due_in_ms)
        _, first = pipe.execute()
    return bool(first)


def take_batch() -> list[int]:
    """Up to TAKE_AT_ONCE waiting runs, removed from the set."""
    return [int(run_id) for run_id in _redis().spop(_key(WAITING), TAKE_AT_ONCE)]


def connect() -> None:
    from workflows.signals import runs_finished

    runs_finished.connect(on_runs_finished, dispatch_uid="search.index_on_run_finish")
