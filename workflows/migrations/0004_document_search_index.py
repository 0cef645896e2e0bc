# A GIN index over documents' full-text search vector, on PostgreSQL only: SQLite has no
# to_tsvector or GIN (it searches with icontains). The index is built from the same
# workflows.search.document_vector() the query uses, so the planner can match the two.
#
# Not in Document.Meta.indexes on purpose: the model state would then hold an index that
# SQLite cannot create (it rebuilds the whole table, indexes included, on many schema changes).
#
# CONCURRENTLY, so a deploy does not block writes to documents while the index builds; that
# cannot run in a transaction, hence atomic = False. A concurrent build that fails leaves an
# invalid index behind, so the forward step drops any leftover first (DROP ... IF EXISTS).

from django.db import migrations

from workflows.search import document_search_index


def create_search_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    document = apps.get_model("workflows", "Document")
    index = document_search_index()
    schema_editor.remove_index(document, index, concurrently=True)
    schema_editor.add_index(document, index, concurrently=True)


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    document = apps.get_model("workflows", "Document")
    schema_editor.remove_index(document, document_search_index(), concurrently=True)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("workflows", "0003_steprun_claim_fields"),
    ]

    operations = [
        migrations.RunPython(create_search_index, drop_search_index, elidable=False),
    ]
