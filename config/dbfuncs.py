"""Database functions analytics needs that Django's ORM lacks: seconds between two
timestamps, and percentiles computed by the database.

Percentiles: PostgreSQL's `percentile_cont(ARRAY[...]) WITHIN GROUP (ORDER BY x)` (one sort
for all fractions, in the same query as the other aggregates). SQLite has no percentile
aggregate; the fallback is one query with window functions (ROW_NUMBER and COUNT over each
group) that returns, per group, only the two values around each fraction's position, and
interpolates between them exactly as percentile_cont does. No rows are loaded into Python.
"""

from django.db import connection
from django.db.models import Aggregate, DurationField, F, FloatField, Func, QuerySet, Value
from django.db.models.expressions import BaseExpression, CombinedExpression

DEFAULT_FRACTIONS = (0.5, 0.95, 0.99)


def label(fraction: float) -> str:
    """0.5 -> "p50", 0.95 -> "p95", 0.999 -> "p99.9"."""
    return "p" + f"{fraction * 100:.4f}".rstrip("0").rstrip(".")


class SecondsBetween(Func):
    """`end - start` in seconds, as a float (NULL when either is NULL)."""

    output_field = FloatField()

    def __init__(self, end, start, **extra):
        super().__init__(F(end) if isinstance(end, str) else end,
                         F(start) if isinstance(start, str) else start, **extra)  # fmt: skip

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="EXTRACT(EPOCH FROM (%(expressions)s))::float8",
            arg_joiner=" - ",
            **extra,
        )

    def as_sqlite(self, compiler, connection, **extra):
        # Django's own timestamp difference (exact microseconds; julianday() is not exact).
        end, start = self.get_source_expressions()
        diff = CombinedExpression(end, "-", start, output_field=DurationField())
        sql, params = compiler.compile(diff.resolve_expression(compiler.query))
        return f"(({sql}) / 1000000.0)", params

    def as_sql(self, compiler, connection, **extra):
        if "template" not in extra:  # other databases: Django's own duration arithmetic
            raise NotImplementedError(f"SecondsBetween is not written for {connection.vendor}")
        return super().as_sql(compiler, connection, **extra)


class PercentilesCont(Aggregate):
    """PostgreSQL only: an array of continuous percentiles of the expression."""

    function = "percentile_cont"
    template = "%(function)s(%(fractions)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression, fractions=DEFAULT_FRACTIONS, **extra):
        from django.contrib.postgres.fields import ArrayField

        # The fractions are our own floats (never user input), written as a literal array.
        literal = "ARRAY[{}]::float8[]".format(",".join(repr(float(f)) for f in fractions))
        super().__init__(
            expression, fractions=literal, output_field=ArrayField(FloatField()), **extra
        )


class PercentilesDisc(PercentilesCont):
    """PostgreSQL only: nearest-rank percentiles (values that occur in the data)."""

    function = "percentile_disc"


def supports_percentile_aggregate() -> bool:
    return connection.vendor == "postgresql"


def percentile_aggregate(value: BaseExpression, fractions=DEFAULT_FRACTIONS):
    """An aggregate to put beside others on PostgreSQL; None elsewhere (use `percentiles`)."""
    if supports_percentile_aggregate():
        return PercentilesCont(value, fractions)
    return None


def unpack(values, fractions=DEFAULT_FRACTIONS) -> dict[str, float | None]:
    """{"p50": ..., ...} from the array PercentilesCont returned (None: no rows)."""
    values = values or [None] * len(fractions)
    return {
        label(f): (round(v, 6) if v is not None else None)
        for f, v in zip(fractions, values, strict=True)
    }


def percentiles(
    queryset: QuerySet,
    value: BaseExpression,
    fractions=DEFAULT_FRACTIONS,
    *,
    group_by: str | None = None,
    discrete: bool = False,
) -> dict:
    """{group: {"p50": ..., ...}} over the rows of `queryset` where `value` is not NULL (the
    group is None without `group_by`). One query, computed by the database."""
    rows = queryset.order_by().annotate(_pv=value).filter(_pv__isnull=False)
    if supports_percentile_aggregate():
        aggregate = PercentilesDisc if discrete else PercentilesCont
        if group_by is None:
            result = rows.aggregate(_p=aggregate(F("_pv"), fractions))
            return {None: unpack(result["_p"], fractions)}
        grouped = rows.values(group_by).annotate(_p=aggregate(F("_pv"), fractions))
        return {row[group_by]: unpack(row["_p"], fractions) for row in grouped}
    return _window_percentiles(rows, fractions, group_by, discrete)


def _window_percentiles(rows: QuerySet, fractions, group_by: str | None, discrete: bool) -> dict:
    """The portable fallback (SQLite): the values around each fraction's position, picked
    by ROW_NUMBER within each group, interpolated as percentile_cont does (or, discrete, the
    value at the nearest rank ceil(f * n), as percentile_disc does)."""
    rows = rows.annotate(_pg=F(group_by)) if group_by else rows.annotate(_pg=Value(0))
    inner_sql, params = rows.values("_pg", "_pv").query.sql_with_params()
    picks = []
    for f in fractions:
        if discrete:  # 0-based nearest rank: max(ceil(f * n), 1) - 1; no fraction
            exact = f"(n * {float(f)!r})"
            ceil = f"(CAST({exact} AS INTEGER) + ({exact} > CAST({exact} AS INTEGER)))"
            position = low = f"(MAX({ceil}, 1) - 1)"
        else:
            position = f"((n - 1) * {float(f)!r})"
            low = f"CAST({position} AS INTEGER)"
        picks.append(
            f"MAX(CASE WHEN rn = {low} THEN v END), "
            f"MAX(CASE WHEN rn = {low} + 1 THEN v END), "
            f"MAX({position} - {low})"
        )
    # Only our own SQL and Django's compiled query (its values stay in `params`).
    sql = (
        f"SELECT g, {', '.join(picks)} FROM ("  # noqa: S608
        "SELECT g, v, ROW_NUMBER() OVER (PARTITION BY g ORDER BY v) - 1 AS rn, "
        "COUNT(*) OVER (PARTITION BY g) AS n "
        f'FROM (SELECT "_pg" AS g, "_pv" AS v FROM ({inner_sql}) AS src) AS typed'
        ") AS ranked GROUP BY g"
    )
    result = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            values = []
            for i in range(len(fractions)):
                lo, hi, fr = row[1 + 3 * i : 4 + 3 * i]
                if lo is None:
                    values.append(None)
                else:
                    values.append(lo + ((hi if hi is not None else lo) - lo) * (fr or 0.0))
            result[row[0] if group_by else None] = unpack(values, fractions)
    if group_by is None and not result:
        result[None] = unpack(None, fractions)
    return result
