"""The one way a document is written: a step's output and an approval's record alike.

Inside the caller's transaction (the one that records the step), through `sql.insert_document`
(one statement with its parent links on PostgreSQL), or with the step's other writes.
Anything that must happen to every new document (an index, an embedding) belongs here.
"""

from django.utils import timezone

from workflows.engine import sql
from workflows.models import Document, Run


def create_document(
    *,
    run: Run,
    step_key: str,
    title: str,
    content: str,
    parents: list[Document],
    analysis: dict | None = None,
    data=None,
    now=None,
    document_id: int | None = None,
    writes: list | None = None,
) -> Document:
    """The document, inserted now; or, given the id it will have (`state.lock_for_document`)
    and a `writes` list, its INSERTs appended to `writes`, to go with the step's other
    writes in one round trip (`state.advance_and_settle(..., also=writes)`)."""
    values = {
        "workspace_id": run.workspace_id,
        "run_id": run.pk,
        "step_key": step_key,
        "title": title[:300],
        "content": content,
        "word_count": len(content.split()),
        "analysis": analysis or {},
        "data": data,
        "created_at": now or timezone.now(),
    }
    parent_ids = [parent.pk for parent in parents]
    if document_id is not None and writes is not None:
        writes += sql.insert_document_statements(document_id, values, parent_ids)
    else:
        document_id = sql.insert_document(values, parent_ids)
    return Document(id=document_id, **values)
