"""Documents' full-text search vector on PostgreSQL, defined once: the query
(selectors.search_documents) and the GIN index over it (migration 0004) are both built from
`document_vector()`, because the planner uses an expression index only for a query whose
expression is exactly the index's.

Changing the vector therefore needs a new migration that drops and re-creates the index;
until then searches still work, but without the index."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import CombinedSearchVector, SearchVector

SEARCH_CONFIG = "english"
SEARCH_INDEX_NAME = "workflows_document_search"


def document_vector() -> CombinedSearchVector:
    """Title weighs more than content (rank A against B)."""
    return SearchVector("title", weight="A", config=SEARCH_CONFIG) + SearchVector(
        "content", weight="B", config=SEARCH_CONFIG
    )


def document_search_index() -> GinIndex:
    return GinIndex(document_vector(), name=SEARCH_INDEX_NAME)
