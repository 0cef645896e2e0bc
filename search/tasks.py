"""Celery tasks: thin wrappers that take ids. Indexing runs on the `low` queue, never in a
step's message or transaction, so the engine's per-step cost does not change."""

from celery import shared_task

from search import services
from workflows.models import Document

QUEUE = "low"


@shared_task(name="search.index_runs", ignore_result=True, acks_late=True)
def index_runs(run_ids: list[int]) -> int:
    """Index the documents of finished runs (one message per committed batch of runs)."""
    ids = Document.objects.filter(run_id__in=run_ids).values_list("id", flat=True)
    return services.index_documents(document_ids=list(ids))
