"""The GIN index behind documents' full-text search: PostgreSQL plans the search through it,
and migration 0004 makes it there (and nothing on SQLite), backwards too."""

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from accounts.scoping import Actor
from workflows import selectors
from workflows.models import Document
from workflows.search import SEARCH_INDEX_NAME
from workflows.tests.factories import make_run, make_workflow

FILLER = "Quarterly notes on shipping, invoices and the office move."


def _search_index_exists() -> bool:
    with connection.cursor() as cursor:
        indexes = connection.introspection.get_constraints(cursor, Document._meta.db_table)
    return SEARCH_INDEX_NAME in indexes


@pytest.mark.django_db
def test_postgresql_plans_the_search_through_the_gin_index(user, workspace):
    if connection.vendor != "postgresql":
        pytest.skip("GIN and to_tsvector: PostgreSQL only")
    run = make_run(make_workflow(user, workspace))
    Document.objects.bulk_create(
        Document(
            workspace=workspace,
            run=run,
            step_key=f"s{i}",
            title=f"Solar kettle {i}" if i % 50 == 0 else f"Memo {i}",
            content=FILLER,
        )
        for i in range(500)
    )
    found = selectors.search_documents(selectors.documents_for(Actor(user)), "solar kettles")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Document._meta.db_table}")
        # Few rows: keep the planner off the whole-table scan it could afford here.
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = found.explain()
    assert SEARCH_INDEX_NAME in plan, plan
    assert {d.step_key for d in found} == {f"s{i}" for i in range(0, 500, 50)}


@pytest.mark.integration  # migrates backwards and forwards
@pytest.mark.django_db(transaction=True)
def test_the_migration_makes_the_index_on_postgresql_only_and_reverses():
    postgresql = connection.vendor == "postgresql"
    assert _search_index_exists() is postgresql
    try:
        call_command("migrate", "workflows", "0003", verbosity=0)
        assert not _search_index_exists()
    finally:
        # Every app forward: going back to 0003 also unapplied the migrations that depend on
        # workflows 0004 (search's), and later tests need their tables.
        call_command("migrate", verbosity=0)
    assert _search_index_exists() is postgresql
