"""Search API: `GET /api/v3/documents/search` and `GET /api/v3/documents/{id}/related`.
Parsing and rendering only; ranking is search.selectors'."""

from django.conf import settings
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView

from accounts.scoping import Actor, workspaces_for
from config.api.pagination import StandardPagination
from config.errors import DomainError, NotFound
from search import selectors
from workflows.filters import DocumentFilter
from workflows.models import Document
from workflows.selectors import documents_for, get_document


class HitDocumentSerializer(serializers.ModelSerializer):
    workflow = serializers.IntegerField(source="run.workflow_id", read_only=True)

    class Meta:
        model = Document
        fields = ["id", "workspace", "workflow", "run", "step_key", "title", "word_count"]
        read_only_fields = fields


class HitSerializer(serializers.Serializer):
    document = HitDocumentSerializer()
    score = serializers.FloatField(help_text="The mode's score: ts_rank, cosine, or RRF.")
    excerpt = serializers.CharField()
    keyword_rank = serializers.IntegerField(allow_null=True)
    semantic_rank = serializers.IntegerField(allow_null=True)
    similarity = serializers.FloatField(allow_null=True, help_text="Cosine of the best chunk.")


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    mode = serializers.CharField(required=False, default="hybrid")


class InvalidFilter(DomainError):
    code = "validation_error"


def _render(hits, documents: dict) -> list[dict]:
    rows = [
        {
            "document": documents[hit.document_id],
            "score": round(hit.score, 6),
            "excerpt": hit.excerpt,
            "keyword_rank": hit.keyword_rank,
            "semantic_rank": hit.semantic_rank,
            "similarity": None if hit.similarity is None else round(hit.similarity, 6),
        }
        for hit in hits
        if hit.document_id in documents
    ]
    return HitSerializer(rows, many=True).data


class _HitsView(GenericAPIView):
    queryset = Document.objects.none()  # for the schema: hits are not a queryset
    pagination_class = StandardPagination
    serializer_class = HitSerializer

    def respond(self, hits, excerpts=None):
        page = self.paginate_queryset(hits)
        if excerpts is not None:
            excerpts(page)
        documents = Document.objects.select_related("run").in_bulk([h.document_id for h in page])
        return self.get_paginated_response(_render(page, documents))


FILTERS = [
    OpenApiParameter("workspace", OpenApiTypes.INT),
    OpenApiParameter("workflow", OpenApiTypes.INT),
    OpenApiParameter("run", OpenApiTypes.INT),
    OpenApiParameter("step", OpenApiTypes.STR),
]


def _check_workspace(actor: Actor, value) -> None:
    """A workspace filter naming one the caller is not in is a 404, as everywhere."""
    if value and str(value).isdigit() and not workspaces_for(actor).filter(pk=value).exists():
        raise NotFound("No such workspace.")


class DocumentSearchView(_HitsView):
    """Documents best matching `q`: `mode=hybrid` (default; reciprocal-rank fusion of keyword
    and semantic), `keyword` (full text, any word) or `semantic` (embeddings). Filters as the
    documents list; each hit has its score and an excerpt. At most SEARCH_CANDIDATES hits."""

    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, required=True),
            OpenApiParameter("mode", OpenApiTypes.STR, enum=list(selectors.MODES)),
            *FILTERS,
        ],
        responses=HitSerializer(many=True),
    )
    def get(self, request):
        params = SearchQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        actor = Actor.from_request(request)
        data = request.query_params.copy()
        data.pop("q", None)
        data.pop("mode", None)
        _check_workspace(actor, data.get("workspace"))
        found = DocumentFilter(data, queryset=documents_for(actor))
        if not found.is_valid():
            # As the documents list says it (django-filter's own translation of form errors).
            details = translate_validation(found.errors).detail
            name, messages = next(iter(details.items()))
            raise InvalidFilter(f"Invalid filter. {name}: {messages[0]}", details=details)
        ranking = selectors.rank(
            found.qs,
            params.validated_data.get("q", ""),
            mode=params.validated_data["mode"],
            limit=settings.SEARCH_CANDIDATES,
        )
        return self.respond(ranking.hits, excerpts=ranking.add_excerpts)


class RelatedDocumentsView(_HitsView):
    """The documents of the same workspace nearest in meaning to this one (semantic)."""

    @extend_schema(responses=HitSerializer(many=True))
    def get(self, request, pk: int):
        actor = Actor.from_request(request)
        document = get_document(actor, pk)
        hits = selectors.related(documents_for(actor), document, limit=settings.SEARCH_RELATED)
        return self.respond(hits)
