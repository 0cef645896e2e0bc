"""Date-times between Django and PostgreSQL (psycopg 3).

Going in, in UTC: Python accepts UTC offsets up to ±23:59 (`2020-01-01T00:00:00-21:33`
parses), PostgreSQL only up to ±15:59: psycopg's text dumper sends the offset as written, so
such a value in any filter or field was a DataError (500). Sending every aware date-time as its
UTC equivalent is the same instant and always valid, for every filter and field at once.
SQLite already gets UTC (Django converts there).

Coming out, parsed in C: Django loads `timestamptz` with a subclass of psycopg's pure-Python
loader (to attach its time zone), which parses each value in Python; the engine's lock reads
fifty of them per step. On a connection whose Django time zone is UTC (USE_TZ), `UtcLoader`
hands the text to psycopg's C loader and returns the same aware UTC date-time.
"""

from datetime import UTC, datetime


def install() -> None:
    try:
        import psycopg
        from psycopg.adapt import Loader
        from psycopg.types.datetime import DatetimeDumper
        from psycopg.types.datetime import TimestamptzLoader as PythonLoader
    except ImportError:  # SQLite-only installs
        return
    from django.db.backends.signals import connection_created

    class UtcDatetimeDumper(DatetimeDumper):
        def dump(self, obj: datetime):
            if obj.tzinfo is not None:
                obj = obj.astimezone(UTC)
            return super().dump(obj)

    psycopg.adapters.register_dumper(datetime, UtcDatetimeDumper)

    fast = psycopg.adapters.get_loader(psycopg.postgres.types["timestamptz"].oid, 0)
    if fast is None or fast is PythonLoader:
        return  # no C implementation (the pure-Python psycopg): keep Django's

    class UtcLoader(Loader):
        # What Django's connection compares before each cursor (its loader's time zone).
        timezone = UTC

        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self._load = fast(oid, context).load

        def load(self, data):
            value = self._load(data)
            # Aware, in the session's time zone (Django sets UTC): the same instant in UTC.
            return value if value.tzinfo is UTC else value.astimezone(UTC)

    def use_utc_loader(sender, connection, **kwargs) -> None:
        if connection.vendor == "postgresql" and getattr(connection, "timezone", None) is UTC:
            connection.connection.adapters.register_loader("timestamptz", UtcLoader)

    connection_created.connect(use_utc_loader, dispatch_uid="config.dbtypes.utc_loader", weak=False)
