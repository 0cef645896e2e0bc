"""Date-times go to PostgreSQL in UTC.

Python accepts UTC offsets up to ±23:59 (`2020-01-01T00:00:00-21:33` parses), PostgreSQL only
up to ±15:59: psycopg's text dumper sends the offset as written, so such a value in any filter
or field was a DataError (500). Sending every aware date-time as its UTC equivalent is the same
instant and always valid, for every filter and field at once. SQLite already gets UTC (Django
converts there).
"""

from datetime import UTC, datetime


def install() -> None:
    try:
        import psycopg
        from psycopg.types.datetime import DatetimeDumper
    except ImportError:  # SQLite-only installs
        return

    class UtcDatetimeDumper(DatetimeDumper):
        def dump(self, obj: datetime):
            if obj.tzinfo is not None:
                obj = obj.astimezone(UTC)
            return super().dump(obj)

    psycopg.adapters.register_dumper(datetime, UtcDatetimeDumper)
