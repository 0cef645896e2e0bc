"""`manage.py search_backfill [--workspace ID ...] [--limit N] [--all]`: embed the documents
that are not in the semantic index yet (e.g. made before search was installed, or after a
workspace changed its embedding model). `--all` re-embeds every document."""

from django.core.management.base import BaseCommand

from search import services
from workflows.models import Document


class Command(BaseCommand):
    help = "Embed documents missing from the semantic search index."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", type=int, action="append", help="only these (repeat)")
        parser.add_argument("--limit", type=int, default=None, help="at most this many")
        parser.add_argument("--batch", type=int, default=500, help="documents per batch")
        parser.add_argument("--all", action="store_true", help="re-embed indexed ones too")

    def handle(self, *args, workspace=None, limit=None, batch=500, all=False, **options):
        if all:
            documents = Document.objects.order_by("id")
            if workspace:
                documents = documents.filter(workspace_id__in=workspace)
            ids = list(documents.values_list("id", flat=True)[:limit])
        else:
            ids = services.pending_documents(workspace_ids=workspace, limit=limit)
        done = 0
        for start in range(0, len(ids), batch):
            done += services.index_documents(document_ids=ids[start : start + batch])
            self.stdout.write(f"indexed {done}/{len(ids)}")
        self.stdout.write(self.style.SUCCESS(f"{done} documents indexed"))
