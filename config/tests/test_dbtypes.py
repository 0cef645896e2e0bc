"""Date-times read from PostgreSQL: parsed by psycopg's C loader, the same aware UTC instants
Django's own loader gives."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection, transaction

pytestmark = pytest.mark.django_db

SQL = "SELECT '2026-01-01 05:00:00+05'::timestamptz, '2026-06-01 12:00:00.123456+00'::timestamptz"


def _read(sql=SQL):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's loaders")


def test_timestamps_come_back_as_the_same_instants_in_utc(postgresql):
    first, second = _read()

    assert first == datetime(2026, 1, 1, 0, 0, tzinfo=UTC) and first.tzinfo is UTC
    assert second == datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC) and second.tzinfo is UTC
    assert connection.connection.adapters.get_loader(1184, 0).__name__ == "UtcLoader"


def test_a_session_in_another_time_zone_still_reads_utc(postgresql):
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL TimeZone = 'Asia/Kolkata'")
        value = _read("SELECT '2026-01-01 05:00:00+05'::timestamptz")[0]
        india = _read("SELECT '2026-01-01 05:00:00+05'::timestamptz::text")[0]

    assert india.endswith("+05:30")  # the server did answer in the session's zone
    assert value == datetime(2026, 1, 1, 0, 0, tzinfo=UTC) and value.tzinfo is UTC
    assert value == datetime(2026, 1, 1, 5, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
