"""The engine's only door to search (`search.selectors`), for `retrieve` steps: the top-k
documents of the run's workspace for the step's rendered query. The `search` app is imported
lazily, like `ai` in llm.py, so the engine works wherever it is not installed.

Nothing here runs for other kinds: a step that does not retrieve pays nothing for search.
"""

from dataclasses import dataclass

from workflows.engine.llm import PermanentStepError, TransientStepError
from workflows.models import Document

DEFAULT_K = 5


@dataclass(frozen=True)
class Retrieved:
    id: int
    title: str
    excerpt: str
    score: float


def retrieve(*, workspace_id: int, query: str, parameters: dict) -> list[Retrieved]:
    try:
        from search import selectors
        from search.errors import EmbeddingUnavailable, InvalidQuery
    except ImportError as exc:
        raise PermanentStepError(
            "Search is not installed, so this step cannot retrieve documents.",
            code="search_unavailable",
        ) from exc
    documents = Document.objects.filter(workspace_id=workspace_id)
    if parameters.get("workflow"):
        documents = documents.filter(run__workflow_id=parameters["workflow"])
    if parameters.get("step"):
        documents = documents.filter(step_key=parameters["step"])
    try:
        hits = selectors.search(
            documents,
            query,
            mode=parameters.get("mode", "hybrid"),
            limit=parameters.get("k", DEFAULT_K),
        )
    except InvalidQuery as exc:
        raise PermanentStepError(exc.message, code=exc.code) from exc
    except EmbeddingUnavailable as exc:
        raise TransientStepError(exc.message, code=exc.code) from exc
    titles = dict(documents.filter(pk__in=[h.document_id for h in hits]).values_list("pk", "title"))
    return [
        Retrieved(hit.document_id, titles.get(hit.document_id, ""), hit.excerpt, hit.score)
        for hit in hits
        if hit.document_id in titles
    ]


def as_markdown(title: str, query: str, found: list[Retrieved]) -> str:
    """The step's document: what later steps read as `{{ steps.<key>.output }}`."""
    lines = [f"# {title}", "", f"Documents matching: {query}", ""]
    if not found:
        lines.append("No documents matched.")
    for number, item in enumerate(found, start=1):
        lines.append(f"{number}. **{item.title}** (document {item.id})")
        if item.excerpt:
            lines.append(f"   {item.excerpt}")
    return "\n".join(lines)


def as_data(query: str, mode: str, found: list[Retrieved]) -> dict:
    return {
        "query": query,
        "mode": mode,
        "documents": [
            {"id": f.id, "title": f.title, "excerpt": f.excerpt, "score": round(f.score, 6)}
            for f in found
        ],
    }
