"""The semantic index: each document's text in windows (chunking.py), one vector per window,
tagged with the embedding model that made it, so a workspace that changes its model simply
has documents to index again."""

from django.db import models

from accounts.models import Workspace
from search.vectors import EmbeddingField
from workflows.models import Document


class DocumentChunk(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    # Copied from the document: scoping and ranking read one table.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    index = models.PositiveSmallIntegerField()  # position in the document
    model = models.CharField(max_length=200)  # embeddings.resolve() of the workspace's setting
    dimensions = models.PositiveSmallIntegerField()
    text = models.TextField()  # the window, for the excerpt
    embedding = EmbeddingField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["document", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "model", "index"], name="one_chunk_per_slot"
            )
        ]
        indexes = [models.Index(fields=["workspace", "model"])]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.index} ({self.model})"
