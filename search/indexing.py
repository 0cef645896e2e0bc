"""When documents get indexed: after the transaction that finishes a run commits
(workflows.signals.runs_finished), one `search.index_runs` message on the `low` queue; in the
CLI's `--inline` mode (no broker), at once in this process. A beat job (the
`search.index_pending` task type, every SEARCH_INDEX_SWEEP_SECONDS) and
`manage.py search_backfill` catch up on the rest."""

import logging

from django.conf import settings

logger = logging.getLogger(__name__)


def on_runs_finished(sender, run_ids, dispatcher=None, **kwargs) -> None:
    if not settings.SEARCH_INDEX_ON_RUN_FINISH:
        return
    from search import tasks

    if getattr(dispatcher, "in_process", False):
        tasks.index_runs(run_ids)  # the run ran in this process (--inline): no broker
        return
    try:
        tasks.index_runs.apply_async(args=[run_ids], queue=tasks.QUEUE, retry=False)
    except Exception:
        # Not lost: the index_pending beat job finds documents with no chunks.
        logger.warning("could not queue indexing for runs %s", run_ids, exc_info=True)


def connect() -> None:
    from workflows.signals import runs_finished

    runs_finished.connect(on_runs_finished, dispatch_uid="search.index_on_run_finish")
