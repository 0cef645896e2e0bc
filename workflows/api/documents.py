"""Documents: the list (filter by workflow, run, step; `q` full-text search), one document
with its parents and children, its lineage, and a run's documents."""

from functools import cached_property

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.response import Response

from accounts.viewsets import WorkspaceScopedMixin, WorkspaceScopedViewSet
from workflows import selectors
from workflows.filters import DocumentFilter
from workflows.models import Document
from workflows.serializers import (
    DocumentDetailSerializer,
    DocumentSerializer,
    LineageNodeSerializer,
)


class DocumentViewSet(WorkspaceScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Documents made by runs, newest first (best match first with `q`)."""

    queryset = Document.objects.all()
    serializer_class = DocumentSerializer
    filterset_class = DocumentFilter
    ordering_fields = ["id", "created_at", "word_count", "step_key"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return selectors.documents_for(self.actor).select_related("run")

    def get_serializer_class(self):
        return DocumentDetailSerializer if self.action == "retrieve" else DocumentSerializer

    @extend_schema(responses={200: OpenApiResponse(description="Ancestors and descendants")})
    def lineage(self, request, pk=None):
        """The document's whole upstream chain and its descendants (nearest first, with
        `depth`), and the parent links between them as [child, parent] pairs."""
        document = self.get_object()
        found = selectors.lineage(self.actor, document)
        context = {"depth": found.depth}

        def nodes(documents):
            return LineageNodeSerializer(documents, many=True, context=context).data

        return Response(
            {
                "document": DocumentSerializer(document).data,
                "ancestors": nodes(found.ancestors),
                "descendants": nodes(found.descendants),
                "edges": [list(edge) for edge in found.edges],
                "truncated": found.truncated,
            }
        )


class RunDocumentViewSet(WorkspaceScopedViewSet):
    """A run's documents, in the order they were made."""

    queryset = Document.objects.all()
    serializer_class = DocumentSerializer

    @cached_property
    def run(self):
        return selectors.get_run(self.actor, self.kwargs["run_pk"])

    def get_queryset(self):
        return (
            selectors.documents_for(self.actor)
            .filter(run=self.run)
            .select_related("run")
            .order_by("created_at", "id")
        )

    def list(self, request, run_pk=None):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(DocumentSerializer(page, many=True).data)
