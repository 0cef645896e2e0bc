"""The one way a document is written: a step's output and an approval's record alike.

Inside the caller's transaction (the one that records the step), through `sql.insert_document`
(one statement with its parent links on PostgreSQL). Anything that must happen to every new
document (an index, an embedding) belongs here.
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
) -> Document:
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
    document_id = sql.insert_document(values, [parent.pk for parent in parents])
    return Document(id=document_id, **values)
