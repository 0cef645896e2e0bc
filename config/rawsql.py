"""Plain SQL that reads and writes model rows: for the hot paths where the ORM's own Python
(building and compiling a query, ~0.2-1 ms) costs more than the round trip.

Values go through the model fields' own converters both ways, so a row read here becomes an
ordinary model instance (`build`; the columns not read are deferred), and a value written
here is stored as the ORM would store it (`prep`). Identifiers come from model metadata;
every value is a bound parameter. Statements run on `cursor()`, which keeps the database
cursor of the connection for the next statement.
"""

from contextlib import contextmanager
from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init


@cache
def _fields(model: type[Model], attnames: tuple[str, ...]) -> tuple:
    """(column expression, converters) per column; attnames in concrete-field order."""
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    order = [f.attname for f in model._meta.concrete_fields]
    # Model.from_db reads values in concrete-field order.
    assert [order.index(n) for n in attnames] == sorted(order.index(n) for n in attnames)  # noqa: S101
    out = []
    for name in attnames:
        field = by_attname[name]
        col = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
        out.append((col, tuple(converters)))
    return tuple(out)


@cache
def columns(model: type[Model], exclude: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The model's column attnames in concrete-field order, minus `exclude`."""
    return tuple(f.attname for f in model._meta.concrete_fields if f.name not in exclude)


def select_list(alias: str, model: type[Model], attnames: tuple[str, ...]) -> str:
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    return ", ".join(f'{alias}."{by_attname[name].column}"' for name in attnames)


def build(model: type[Model], attnames: tuple[str, ...], values) -> Model:
    """A model instance from raw column values (converted like the ORM does).

    What `Model.from_db` makes, without its pass over every field of the model (the engine
    builds a run's ten step rows per step): unless something listens to the model's
    pre_init or post_init, which `from_db` then sends as usual."""
    converted = list(values)
    for index, col, converters in _converting(model, attnames):
        value = converted[index]
        for converter in converters:
            value = converter(value, col, connection)
        converted[index] = value
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return model.from_db(connection.alias, attnames, converted)
    instance = model.__new__(model)
    instance._state = ModelState()
    instance._state.adding = False
    instance._state.db = connection.alias
    for name, value in zip(attnames, converted, strict=True):
        setattr(instance, name, value)
    return instance


@cache
def _converting(model: type[Model], attnames: tuple[str, ...]) -> tuple:
    """Only the columns that have converters: (index, column expression, converters)."""
    return tuple(
        (index, col, converters)
        for index, (col, converters) in enumerate(_fields(model, attnames))
        if converters
    )


def prep(model: type[Model], name: str, value):
    field = model._meta.get_field(name)
    return field.get_db_prep_save(value, connection)


def returning(model: type[Model], attnames: tuple[str, ...]) -> str:
    """The column list of `attnames` (for RETURNING)."""
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    return ", ".join(f'"{by_attname[name].column}"' for name in attnames)


def execute(sql: str, params=()) -> int:
    with cursor() as c:
        c.execute(sql, params)
        return c.rowcount


class _Kept:
    """The database cursor kept for one database connection (per thread, as Django's
    connections are), and whether a `cursor()` block is using it."""

    def __init__(self, db_connection, db_cursor) -> None:
        self.db_connection = db_connection
        self.db_cursor = db_cursor
        self.busy = False


@contextmanager
def cursor():
    """`connection.cursor()` without a new database cursor per statement: psycopg sets up a
    new cursor's adapters and loaders on its first statement, 60 of a task claim's ~240 us
    of CPU on this 2-core machine (a task's run in process, claim and outcome: 0.76-0.89 ms
    before, 0.62-0.65 after). The database cursor is kept for the connection it belongs to
    (a reconnection makes a new one) and wrapped as Django wraps each cursor: query logging
    when on (tests count statements), execute wrappers, database errors translated. Not
    closed on leaving the block; a block opened inside another gets a cursor of its own."""
    db = connections[DEFAULT_DB_ALIAS]
    db.close_if_health_check_failed()
    db.ensure_connection()
    kept = getattr(db, "_rawsql_kept", None)
    if kept is None or kept.db_connection is not db.connection or _closed(kept.db_cursor):
        with db.wrap_database_errors:
            kept = _Kept(db.connection, db.create_cursor())
        db._rawsql_kept = kept
    if kept.busy:
        with db.cursor() as fresh:
            yield fresh
        return
    db.validate_thread_sharing()
    wrapped = (
        db.make_debug_cursor(kept.db_cursor)
        if db.queries_logged
        else db.make_cursor(kept.db_cursor)
    )
    kept.busy = True
    try:
        yield wrapped
    finally:
        kept.busy = False


def _closed(db_cursor) -> bool:
    return getattr(db_cursor, "closed", False)  # sqlite3's cursors do not say
