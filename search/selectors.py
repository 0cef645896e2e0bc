"""Search's reads: keyword, semantic and hybrid ranking over a queryset of documents that the
caller has already scoped and filtered (workflows.selectors.documents_for + the list's filters,
or one workspace for a workflow's `retrieve` step).

- keyword: full text, any of the query's words, best first. PostgreSQL ranks with ts_rank over
  the documents' GIN-indexed vector (title above content); elsewhere, words matched in the
  title count twice those in the content.
- semantic: the query's embedding against each document's chunks (the best chunk is the
  document's score, cosine): pgvector when the column is a `vector`, else exactly in numpy.
  A caller reaching several workspaces with different embedding models gets each workspace
  ranked with its own model's query vector.
- hybrid (default): reciprocal-rank fusion of the two lists, sum of 1 / (K + rank).
"""

import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection, connections, transaction
from django.db.models import Case, Count, Q, QuerySet, Value, When

from search import embeddings, matrix, vectors
from search.errors import InvalidQuery
from search.models import DocumentChunk
from search.services import models_by_workspace
from workflows.models import Document
from workflows.search import SEARCH_CONFIG, document_vector

MODES = ("hybrid", "keyword", "semantic")
MAX_WORDS = 32
EXCERPT_CHARS = 240
_WORD = re.compile(r"\w+")
# English stop-words (a short list; PostgreSQL's `english` configuration has its own).
STOP_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "did",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "up",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "",
    }
)


@dataclass
class Hit:
    document_id: int
    score: float
    keyword_rank: int | None = None
    semantic_rank: int | None = None
    similarity: float | None = None  # cosine of the best chunk (semantic)
    chunk_id: int | None = None  # that chunk, for the excerpt
    model: str = ""  # the embedding model that ranked it
    excerpt: str = ""


def clean_query(q) -> str:
    if not isinstance(q, str) or not q.strip():
        raise InvalidQuery("The query `q` is required and may not be empty.", details={"q": q})
    q = q.strip()
    limit = settings.SEARCH_MAX_QUERY_CHARS
    if len(q) > limit:
        raise InvalidQuery(
            f"The query is {len(q)} characters; at most {limit} are allowed.",
            details={"q": f"at most {limit} characters"},
            code="query_too_long",
        )
    return q


def clean_mode(mode) -> str:
    mode = mode or "hybrid"
    if mode not in MODES:
        raise InvalidQuery(
            f"Unknown mode '{mode}' (known: {', '.join(MODES)}).",
            details={"mode": list(MODES)},
            code="invalid_mode",
        )
    return mode


def words(q: str) -> list[str]:
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(q)))[:MAX_WORDS]


@dataclass
class Ranking:
    q: str
    hits: list[Hit]
    query_vectors: dict  # per embedding model, for the excerpts

    def add_excerpts(self, hits: list[Hit] | None = None) -> list[Hit]:
        """Excerpts for `hits` (a page of this ranking; all of it by default)."""
        hits = self.hits if hits is None else hits
        add_excerpts(hits, self.q, query_vectors=self.query_vectors)
        return hits


def rank(
    documents: QuerySet[Document], q: str, *, mode: str = "hybrid", limit: int | None = None
) -> Ranking:
    """The best documents for `q`, at most `limit` (default SEARCH_CANDIDATES), best first,
    without excerpts yet (a caller that pages adds them to its page only)."""
    q = clean_query(q)
    mode = clean_mode(mode)
    limit = limit or settings.SEARCH_CANDIDATES
    depth = max(limit, settings.SEARCH_CANDIDATES) if mode == "hybrid" else limit
    keyword = keyword_ranking(documents, q, depth) if mode != "semantic" else []
    semantic, query_vectors = (
        semantic_ranking(documents, q, depth) if mode != "keyword" else ([], {})
    )
    if mode == "keyword":
        hits = keyword
    elif mode == "semantic":
        hits = semantic
    else:
        hits = fuse(keyword, semantic)
    return Ranking(q, hits[:limit], query_vectors)


def search(
    documents: QuerySet[Document], q: str, *, mode: str = "hybrid", limit: int | None = None
) -> list[Hit]:
    """`rank`, with every hit's excerpt."""
    return rank(documents, q, mode=mode, limit=limit).add_excerpts()


def fuse(keyword: list[Hit], semantic: list[Hit]) -> list[Hit]:
    k = settings.SEARCH_RRF_K
    fused: dict[int, Hit] = {}
    for hit in keyword:
        fused[hit.document_id] = Hit(hit.document_id, 1 / (k + hit.keyword_rank), hit.keyword_rank)
    for hit in semantic:
        entry = fused.setdefault(hit.document_id, Hit(hit.document_id, 0.0))
        entry.score += 1 / (k + hit.semantic_rank)
        entry.semantic_rank = hit.semantic_rank
        entry.similarity = hit.similarity
        entry.chunk_id = hit.chunk_id
        entry.model = hit.model
    return sorted(fused.values(), key=lambda h: (-h.score, -h.document_id))


# --- keyword ---------------------------------------------------------------------------------


def keyword_ranking(documents: QuerySet[Document], q: str, limit: int) -> list[Hit]:
    terms = words(q)
    if not terms:
        return []
    if connection.vendor == "postgresql":
        vector = document_vector()
        # Any of the words (|), stemmed and stop-words dropped by the `english` configuration.
        query = SearchQuery(" | ".join(terms), search_type="raw", config=SEARCH_CONFIG)
        rows = (
            documents.alias(search=vector)
            .filter(search=query)
            .annotate(rank=SearchRank(vector, query))
            .order_by("-rank", "-id")
            .values_list("id", "rank")[:limit]
        )
    else:
        # Whole words (SQLite's REGEXP is Python's re), stop-words dropped as PostgreSQL does.
        patterns = [rf"\b{re.escape(t)}\b" for t in terms if t not in STOP_WORDS]
        if not patterns:
            return []
        score = sum(
            (
                Case(When(title__iregex=p, then=Value(2)), default=Value(0))
                + Case(When(content__iregex=p, then=Value(1)), default=Value(0))
                for p in patterns
            ),
            Value(0),
        )
        rows = (
            documents.annotate(kw=score)
            .filter(kw__gt=0)
            .order_by("-kw", "-id")
            .values_list("id", "kw")[:limit]
        )
    return [
        Hit(doc_id, float(score), keyword_rank=rank)
        for rank, (doc_id, score) in enumerate(rows, start=1)
    ]


# --- semantic --------------------------------------------------------------------------------


def semantic_ranking(
    documents: QuerySet[Document], q: str, limit: int
) -> tuple[list[Hit], dict[str, np.ndarray]]:
    """The hits, and the query's vector per embedding model (for the excerpts)."""
    workspace_ids = set(documents.values_list("workspace_id", flat=True).distinct().order_by())
    groups: dict[str, list[int]] = defaultdict(list)
    for workspace_id, model in models_by_workspace(workspace_ids).items():
        groups[model].append(workspace_id)
    hits: list[Hit] = []
    query_vectors = {}
    for model, ids in groups.items():
        query_vectors[model] = embeddings.embed([q], model=model)[0]
        hits.extend(nearest(documents, ids, model, query_vectors[model], limit))
    hits.sort(key=lambda h: (-h.score, -h.document_id))
    for rank, hit in enumerate(hits[:limit], start=1):
        hit.semantic_rank = rank
    return hits[:limit], query_vectors


def nearest(
    documents: QuerySet[Document],
    workspace_ids: list[int],
    model: str,
    query_vector: np.ndarray,
    limit: int,
    *,
    exclude: int | None = None,
) -> list[Hit]:
    """The documents (of `documents`, in these workspaces, indexed with `model`) whose best
    chunk is closest to `query_vector`, by cosine similarity."""
    if vectors.uses_pgvector(documents.db):
        chunks = DocumentChunk.objects.filter(
            workspace_id__in=workspace_ids,
            model=model,
            dimensions=query_vector.shape[0],
            document__in=documents.values("pk"),
        )
        if exclude is not None:
            chunks = chunks.exclude(document_id=exclude)
        best = _nearest_pgvector(chunks, query_vector, limit)
    else:
        best = _nearest_numpy(documents, workspace_ids, model, query_vector, limit, exclude)
    return [
        Hit(doc_id, score, similarity=score, chunk_id=chunk_id, model=model)
        for doc_id, chunk_id, score in best
    ]


def _nearest_numpy(
    documents: QuerySet[Document],
    workspace_ids: list[int],
    model: str,
    query_vector: np.ndarray,
    limit: int,
    exclude: int | None,
) -> list[tuple]:
    loaded = matrix.load(documents.db, workspace_ids, model, int(query_vector.shape[0]))
    if not len(loaded.doc_ids):
        return []
    keep = np.ones(len(loaded.doc_ids), dtype=bool)
    # Only when `documents` is narrower than these workspaces (a filter): which ones it holds.
    wanted = documents.filter(workspace_id__in=workspace_ids)
    counts = Document.objects.filter(workspace_id__in=workspace_ids).aggregate(
        all=Count("id"), wanted=Count("id", filter=Q(pk__in=wanted.values("pk")))
    )
    if counts["wanted"] != counts["all"]:
        allowed = np.fromiter(wanted.values_list("pk", flat=True).order_by(), dtype=np.int64)
        keep &= np.isin(loaded.doc_ids, allowed)
    if exclude is not None:
        keep &= loaded.doc_ids != exclude
    scores = loaded.vectors @ query_vector.astype(np.float32)
    scores[~keep] = -np.inf
    order = np.argsort(-scores, kind="stable")
    order = order[np.isfinite(scores[order])]
    # The first time a document appears in score order is its best chunk.
    _, first = np.unique(loaded.doc_ids[order], return_index=True)
    best = order[np.sort(first)][:limit]
    return [(int(loaded.doc_ids[i]), int(loaded.chunk_ids[i]), float(scores[i])) for i in best]


def _nearest_pgvector(chunks: QuerySet, query_vector: np.ndarray, limit: int) -> list[tuple]:
    """ORDER BY cosine distance with the HNSW index (for INDEXED_DIMENSIONS; an exact scan for
    other sizes), over enough chunks to find `limit` documents, then best chunk per document."""
    dims = int(query_vector.shape[0])
    inner, params = chunks.order_by().values("pk").query.sql_with_params()
    column = f"embedding::vector({dims})"
    sql = (
        f"SELECT document_id, id, 1 - ({column} <=> %s::vector({dims})) AS similarity "  # noqa: S608
        f"FROM {vectors.TABLE} WHERE dimensions = {dims} AND id IN ({inner}) "
        f"ORDER BY {column} <=> %s::vector({dims}) LIMIT %s"
    )
    text = vectors.to_text(query_vector)
    seen: dict[int, tuple] = {}
    with transaction.atomic(using=chunks.db), connections[chunks.db].cursor() as cursor:
        # pgvector >= 0.8: keep scanning the graph until enough rows pass the filter.
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute(sql, [text, *params, text, limit * 8])
        for doc_id, chunk_id, similarity in cursor.fetchall():
            if doc_id not in seen:
                seen[doc_id] = (doc_id, chunk_id, float(similarity))
    return sorted(seen.values(), key=lambda row: -row[2])[:limit]


# --- related ---------------------------------------------------------------------------------


def related(documents: QuerySet[Document], document: Document, limit: int = 10) -> list[Hit]:
    """The documents of `documents` in `document`'s workspace nearest to it (its chunks'
    mean vector; embedded now, not stored, if it is not indexed yet)."""
    model = models_by_workspace([document.workspace_id])[document.workspace_id]
    stored = list(
        DocumentChunk.objects.filter(document=document, model=model).values_list(
            "embedding", flat=True
        )
    )
    if stored:
        matrix = np.vstack(stored)
    else:
        from search.chunking import chunks

        matrix = embeddings.embed(chunks(document.title, document.content), model=model)
    centre = embeddings.normalize(matrix.mean(axis=0))
    hits = nearest(
        documents.filter(workspace_id=document.workspace_id),
        [document.workspace_id],
        model,
        centre,
        limit,
        exclude=document.pk,
    )
    for rank, hit in enumerate(hits, start=1):
        hit.semantic_rank = rank
    add_excerpts(hits, "", query_vectors={model: centre})
    return hits


# --- excerpts --------------------------------------------------------------------------------


def add_excerpts(hits: list[Hit], q: str, *, query_vectors: dict | None = None) -> None:
    """Where a query word occurs: around its first occurrence; else (a match by meaning) the
    sentence of the best chunk nearest to the query, when the model is the offline one (free
    to run); else the best chunk's start."""
    contents = dict(
        Document.objects.filter(pk__in=[h.document_id for h in hits]).values_list("pk", "content")
    )
    chunk_ids = [h.chunk_id for h in hits if h.chunk_id is not None]
    texts = dict(DocumentChunk.objects.filter(pk__in=chunk_ids).values_list("pk", "text"))
    terms = [t for t in words(q) if len(t) > 2] if q else []
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, terms)) + r")", re.I) if terms else None
    for hit in hits:
        content = contents.get(hit.document_id, "")
        match = pattern.search(content) if pattern else None
        if match:
            hit.excerpt = _window(content, match.start())
        elif hit.chunk_id in texts:
            body = texts[hit.chunk_id].split("\n", 1)[-1]  # the chunk's first line is the title
            vector = (query_vectors or {}).get(hit.model)
            hit.excerpt = _window(body, _nearest_sentence(body, hit.model, vector))
        else:
            hit.excerpt = _window(content, 0)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _nearest_sentence(body: str, model: str, vector) -> int:
    """Where the sentence of `body` nearest to the query starts (0 when unsure)."""
    if vector is None or model != embeddings.OFFLINE:
        return 0
    sentences = [s for s in _SENTENCE_END.split(body) if s.strip()][:64]
    if len(sentences) < 2:
        return 0
    best = sentences[int(np.argmax(embeddings.embed(sentences, model=model) @ vector))]
    return max(body.find(best), 0)


def _window(text: str, at: int) -> str:
    start = max(0, at - EXCERPT_CHARS // 3)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < at else start
    end = min(len(text), start + EXCERPT_CHARS)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    excerpt = " ".join(text[start:end].split())
    return ("…" if start else "") + excerpt + ("…" if end < len(text) else "")
