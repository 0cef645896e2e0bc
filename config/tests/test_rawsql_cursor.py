"""`rawsql.cursor()`: the hot paths' statements share one database cursor per connection,
and are still logged, translated and safe to nest."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from config import rawsql

pytestmark = pytest.mark.django_db


def _database_cursor(wrapper):
    return wrapper.cursor


def test_consecutive_blocks_use_one_database_cursor():
    with rawsql.cursor() as first:
        first.execute("SELECT 1")
        assert first.fetchone() == (1,)
        kept = _database_cursor(first)
    with rawsql.cursor() as second:
        second.execute("SELECT 2")
        assert second.fetchone() == (2,)
        assert _database_cursor(second) is kept


def test_statements_are_logged_when_queries_are_captured():
    with CaptureQueriesContext(connection) as queries:
        assert rawsql.execute("SELECT 1") in (1, -1)  # rowcount of a SELECT: vendor's own
        with rawsql.cursor() as cursor:
            cursor.execute("SELECT %s", [7])
            assert cursor.fetchone() == (7,)
    assert [q["sql"] for q in queries.captured_queries][-2:] == ["SELECT 1", "SELECT 7"]


def test_a_block_inside_another_gets_its_own_cursor():
    with rawsql.cursor() as outer:
        outer.execute("SELECT 1 UNION ALL SELECT 2")
        with rawsql.cursor() as inner:
            assert _database_cursor(inner) is not _database_cursor(outer)
            inner.execute("SELECT 3")
            assert inner.fetchone() == (3,)
        assert outer.fetchall() == [(1,), (2,)]  # the outer result is untouched


@pytest.mark.django_db(transaction=True)  # closes the connection
def test_a_new_connection_gets_a_new_cursor():
    with rawsql.cursor() as before:
        before.execute("SELECT 1")
        kept = _database_cursor(before)
    connection.close()
    with rawsql.cursor() as after:
        after.execute("SELECT 2")
        assert after.fetchone() == (2,)
        assert _database_cursor(after) is not kept


def test_database_errors_are_django_errors_and_the_cursor_stays_usable():
    with pytest.raises(DatabaseError), transaction.atomic(), rawsql.cursor() as cursor:
        cursor.execute("SELECT * FROM rawsql_no_such_table")
    with rawsql.cursor() as cursor:
        cursor.execute("SELECT 5")
        assert cursor.fetchone() == (5,)
