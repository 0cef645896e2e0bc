"""Plain SQL that reads and writes model rows: for the hot paths where the ORM's own Python
(building and compiling a query, ~0.2-1 ms) costs more than the round trip.

Values go through the model fields' own converters both ways, so a row read here becomes an
ordinary model instance (`build`; the columns not read are deferred), and a value written
here is stored as the ORM would store it (`prep`). Identifiers come from model metadata;
every value is a bound parameter.
"""

from functools import cache

from django.db import connection
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
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
