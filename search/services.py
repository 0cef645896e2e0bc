"""Search's writes: embedding documents into the index (DocumentChunk rows).

Documents never change after a step writes them, so a document is indexed once per embedding
model; indexing again replaces its chunks (safe to run twice, or concurrently)."""

import logging
from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Exists, OuterRef

from accounts.models import WorkspaceSettings
from search import chunking, embeddings
from search.models import DocumentChunk
from workflows.models import Document

logger = logging.getLogger(__name__)

BATCH_DOCUMENTS = 100  # documents embedded per transaction


def models_by_workspace(workspace_ids: Iterable[int]) -> dict[int, str]:
    """Each workspace's embedding model (resolved: the offline one when not set)."""
    ids = set(workspace_ids)
    chosen = dict(
        WorkspaceSettings.objects.filter(workspace_id__in=ids).values_list(
            "workspace_id", "embedding_model"
        )
    )
    return {wid: embeddings.resolve(chosen.get(wid)) for wid in ids}


def index_documents(*, document_ids: Iterable[int]) -> int:
    """Embed these documents with their workspace's model; returns how many were indexed."""
    ids = sorted(set(document_ids))
    done = 0
    for start in range(0, len(ids), BATCH_DOCUMENTS):
        batch = list(
            Document.objects.filter(pk__in=ids[start : start + BATCH_DOCUMENTS]).only(
                "id", "workspace_id", "title", "content"
            )
        )
        by_model: dict[str, list[Document]] = defaultdict(list)
        chosen = models_by_workspace(doc.workspace_id for doc in batch)
        for doc in batch:
            by_model[chosen[doc.workspace_id]].append(doc)
        for model, documents in by_model.items():
            done += _index(model, documents)
    return done


def _index(model: str, documents: list[Document]) -> int:
    texts: list[str] = []
    owners: list[tuple[Document, int]] = []
    for doc in documents:
        for position, text in enumerate(chunking.chunks(doc.title, doc.content)):
            texts.append(text)
            owners.append((doc, position))
    vectors = embeddings.embed(texts, model=model)  # outside the transaction: may be slow
    rows = [
        DocumentChunk(
            document_id=doc.pk,
            workspace_id=doc.workspace_id,
            index=position,
            model=model,
            dimensions=vector.shape[0],
            text=text,
            embedding=vector,
        )
        for (doc, position), text, vector in zip(owners, texts, vectors, strict=True)
    ]
    with transaction.atomic():
        # A document deleted meanwhile is skipped (its rows would fail the foreign key).
        alive = set(
            Document.objects.filter(pk__in=[d.pk for d in documents]).values_list("pk", flat=True)
        )
        DocumentChunk.objects.filter(document_id__in=alive).delete()
        DocumentChunk.objects.bulk_create([row for row in rows if row.document_id in alive])
    return len(alive)


def pending_documents(*, workspace_ids: Iterable[int] | None = None, limit: int | None = None):
    """Ids of documents with no chunks made by their workspace's current model, oldest first."""
    documents = Document.objects.all()
    if workspace_ids is not None:
        documents = documents.filter(workspace_id__in=list(workspace_ids))
    workspaces = documents.values_list("workspace_id", flat=True).distinct().order_by()
    chosen = models_by_workspace(workspaces)
    found: list[int] = []
    for workspace_id, model in sorted(chosen.items()):
        indexed = DocumentChunk.objects.filter(document=OuterRef("pk"), model=model)
        ids = (
            documents.filter(workspace_id=workspace_id)
            .exclude(Exists(indexed))
            .order_by("id")
            .values_list("id", flat=True)
        )
        found.extend(ids[: None if limit is None else limit - len(found)])
        if limit is not None and len(found) >= limit:
            break
    return found


def index_pending(*, limit: int = 1000, workspace_ids: Iterable[int] | None = None) -> int:
    return index_documents(document_ids=pending_documents(workspace_ids=workspace_ids, limit=limit))
