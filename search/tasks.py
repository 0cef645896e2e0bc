"""Celery tasks: thin wrappers that take ids (or a batch's). Indexing runs on the `low` queue,
never in a step's message or transaction, so the engine's per-step cost does not change."""

from celery import shared_task

from search import indexing, services
from workflows.models import Document

QUEUE = "low"


@shared_task(name="search.index_runs", ignore_result=True, acks_late=True)
def index_runs(run_ids: list[int] | None = None) -> int:
    """Index the documents of finished runs: these, or (without ids) every run waiting in
    search.indexing's batch."""
    if run_ids is not None:
        return _index_runs(run_ids)
    indexed = 0
    while True:  # a full batch may have left more; a run added later sends its own message
        batch = indexing.take_batch()
        indexed += _index_runs(batch) if batch else 0
        if len(batch) < indexing.TAKE_AT_ONCE:
            return indexed


def _index_runs(run_ids: list[int]) -> int:
    ids = Document.objects.filter(run_id__in=run_ids).values_list("id", flat=True)
    return services.index_documents(document_ids=list(ids))
