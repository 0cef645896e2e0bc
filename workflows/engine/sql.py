# ruff: noqa: S608 - identifiers come from model metadata; every value is a bound parameter
"""The engine's hot path in plain SQL: a handful of statements per step.

The ORM costs ~1 ms of Python per query to build and compile (measured on the 2-core bench
machine; the round trip itself is ~0.15 ms), which alone would spend the per-step budget.
These statements are written once, portable between PostgreSQL and SQLite, and read and
write values through the model fields' own converters, so they return ordinary model
instances (with the columns not read deferred) that the rest of the engine treats as usual.
"""

from functools import cache

from django.db import connection
from django.db.models import Model

from config.rawsql import build, columns, execute, prep, returning, select_list
from config.rawsql import cursor as sql_cursor
from workflows.models import Budget, Document, Run, StepRun

STEP = StepRun._meta.db_table
RUN = Run._meta.db_table
DOCUMENT = Document._meta.db_table
BUDGET = Budget._meta.db_table
PARENTS = Document.parents.through._meta.db_table


def update(model: type[Model], pk: int, values: dict, *, where: str = "", params=()) -> int:
    """UPDATE one row by id (and an optional extra condition); returns the rows matched."""
    return execute(*update_statement(model, pk, values, where=where, params=params))


def update_statement(
    model: type[Model], pk: int, values: dict, *, where: str = "", params=()
) -> tuple[str, list]:
    sets = []
    args = []
    for name, value in values.items():
        field = model._meta.get_field(name)
        if hasattr(value, "resolve_expression"):
            raise TypeError("sql.update takes plain values")
        sets.append(f'"{field.column}" = %s')
        args.append(field.get_db_prep_save(value, connection))
    sql = f'UPDATE "{model._meta.db_table}" SET {", ".join(sets)} WHERE "id" = %s'
    args.append(pk)
    if where:
        sql += f" AND {where}"
        args.extend(params)
    return sql, args


def execute_all(statements: list[tuple[str, list]]) -> None:
    """Run writes whose results nobody reads: one round trip on PostgreSQL (all but the last
    as data-modifying WITHs, which run exactly once whether read or not), one each elsewhere."""
    if connection.vendor != "postgresql" or len(statements) < 2:
        for statement, params in statements:
            execute(statement, params)
        return
    *leading, (last, _) = statements
    withs = ", ".join(f"w{i} AS ({statement})" for i, (statement, _) in enumerate(leading))
    execute(f"WITH {withs} {last}", [arg for _, params in statements for arg in params])


# --- the step's own reads -----------------------------------------------------------------

LOAD_STEP = columns(StepRun, ("rendered_prompt",))
LOAD_RUN = (
    "id",
    "workspace_id",
    "workflow_id",
    "definition",
    "inputs",
    "status",
    "priority",
    "max_cost",
    "error_code",
    "error",
    "tokens_in",
    "tokens_out",
    "cost",
    "created_by_id",
    "started_at",
    "finished_at",
)
LOAD_BUDGET = ("id", "monthly_cost_limit", "monthly_token_limit")
CONTEXT_DOCUMENT = ("id", "title", "content", "data")


def timeout_of(step_run_id: int) -> int | None:
    with sql_cursor() as cursor:
        cursor.execute(f'SELECT "timeout_seconds" FROM "{STEP}" WHERE "id" = %s', [step_run_id])
        row = cursor.fetchone()
    return row[0] if row else None


_CLAIM = (
    f'UPDATE "{STEP}" SET "status" = %s, "attempts" = "attempts" + 1, "started_at" = %s, '
    f'"finished_at" = NULL, "lease_expires_at" = %s WHERE "id" = %s AND "status" = %s'
)


def _claim_params(step_run_id: int, now, lease) -> list:
    return [
        "running",
        prep(StepRun, "started_at", now),
        prep(StepRun, "lease_expires_at", lease),
        step_run_id,
        "queued",
    ]


def claim(step_run_id: int, *, now, lease) -> StepRun | None:
    """queued -> running, attempts + 1, leased: the one conditional UPDATE that makes every
    delivery of a step's message idempotent. Returns the claimed row, or None."""
    sql = f"{_CLAIM} RETURNING {returning(StepRun, LOAD_STEP)}"
    with sql_cursor() as cursor:
        cursor.execute(sql, _claim_params(step_run_id, now, lease))
        row = cursor.fetchone()
    return build(StepRun, LOAD_STEP, row) if row else None


def load_context(run_id: int, keys: list[str]) -> tuple[Run, Budget | None, dict[str, Document]]:
    """The run, its workspace's budget (or None) and the documents of the succeeded steps
    among `keys` (reused ones included), in one query."""
    join = extra = ""
    params: list = []
    if keys:
        marks = ", ".join(["%s"] * len(keys))
        join = (
            f'LEFT JOIN "{STEP}" s ON s."run_id" = r."id" AND s."status" = %s '
            f'AND s."key" IN ({marks}) LEFT JOIN "{DOCUMENT}" d ON d."id" = s."document_id" '
        )
        params = ["succeeded", *keys]
        extra = f", {_CONTEXT_DOCUMENTS}"
    sql = (
        f'SELECT {_CONTEXT_RUN}{extra} FROM "{RUN}" r '
        f'LEFT JOIN "{BUDGET}" b ON b."workspace_id" = r."workspace_id" {join}WHERE r."id" = %s'
    )
    with sql_cursor() as cursor:
        cursor.execute(sql, [*params, run_id])
        rows = cursor.fetchall()
    return _context(rows, with_documents=bool(keys))


_CONTEXT_RUN = f"{select_list('r', Run, LOAD_RUN)}, {select_list('b', Budget, LOAD_BUDGET)}"
_CONTEXT_DOCUMENTS = f's."key", {select_list("d", Document, CONTEXT_DOCUMENT)}'


def _context(rows: list, *, with_documents: bool) -> tuple[Run, Budget | None, dict]:
    """(run, budget, documents by step key) from rows of `_CONTEXT_RUN` [+ documents]."""
    first = rows[0]
    n, m = len(LOAD_RUN), len(LOAD_RUN) + len(LOAD_BUDGET)
    run = build(Run, LOAD_RUN, first[:n])
    budget = build(Budget, LOAD_BUDGET, first[n:m]) if first[n] is not None else None
    documents = {}
    if with_documents:
        for row in rows:
            if row[m + 1] is not None:
                documents[row[m]] = build(Document, CONTEXT_DOCUMENT, row[m + 1 :])
    return run, budget, documents


def claim_with_context(step_run_id: int, *, now, lease):
    """`claim`, then `load_context` for the claimed step: (step run, run, budget, documents),
    or None. One statement on PostgreSQL (the claim's UPDATE ... RETURNING feeds the read of
    its run and of the documents its context keys name), two elsewhere."""
    if connection.vendor != "postgresql":
        step_run = claim(step_run_id, now=now, lease=lease)
        if step_run is None:
            return None
        return step_run, *load_context(step_run.run_id, step_run.context_keys)
    sql = (
        f"WITH c AS ({_CLAIM} RETURNING {returning(StepRun, LOAD_STEP)}) "
        f"SELECT {select_list('c', StepRun, LOAD_STEP)}, {_CONTEXT_RUN}, {_CONTEXT_DOCUMENTS} "
        f'FROM c JOIN "{RUN}" r ON r."id" = c."run_id" '
        f'LEFT JOIN "{BUDGET}" b ON b."workspace_id" = r."workspace_id" '
        f'LEFT JOIN "{STEP}" s ON s."run_id" = r."id" AND s."status" = %s '
        f'AND s."key" IN (SELECT jsonb_array_elements_text(c."context_keys")) '
        f'LEFT JOIN "{DOCUMENT}" d ON d."id" = s."document_id"'
    )
    with sql_cursor() as cursor:
        cursor.execute(sql, [*_claim_params(step_run_id, now, lease), "succeeded"])
        rows = cursor.fetchall()
    if not rows:
        return None
    n = len(LOAD_STEP)
    step_run = build(StepRun, LOAD_STEP, rows[0][:n])
    return step_run, *_context([row[n:] for row in rows], with_documents=True)


def start_run(run_id: int, *, now) -> bool:
    """queued -> running for the run, once, when its first step is claimed."""
    return bool(
        execute(
            f'UPDATE "{RUN}" SET "status" = %s, "started_at" = COALESCE("started_at", %s) '
            f'WHERE "id" = %s AND "status" = %s',
            ["running", prep(Run, "started_at", now), run_id, "queued"],
        )
    )


# --- under the run's lock -----------------------------------------------------------------

LOCK_STEP = LOAD_STEP


def lock(
    run_id: int, run_fields: tuple[str, ...], *, new_document_id: bool = False
) -> tuple[Run | None, list[StepRun], int | None]:
    """The run's `run_fields` and every step run of it, step rows locked (in id order), and,
    if asked for on PostgreSQL, the id of a document to insert later in the transaction
    (taken from its sequence in this statement, so that the insert can go with the step's
    other writes: `insert_document_statements`); None otherwise."""
    new_id = new_document_id and connection.vendor == "postgresql"
    sql, run_attnames = _lock_sql(run_fields, new_id, connection.vendor)
    with sql_cursor() as cursor:
        cursor.execute(sql, [_document_sequence(), run_id] if new_id else [run_id])
        rows = cursor.fetchall()
    if not rows:
        return None, [], None
    n, m = len(LOCK_STEP), len(LOCK_STEP) + len(run_attnames)
    run = build(Run, run_attnames, rows[0][n:m])
    return (
        run,
        [build(StepRun, LOCK_STEP, row[:n]) for row in rows],
        (rows[0][m] if new_id else None),
    )


@cache
def _lock_sql(run_fields: tuple[str, ...], new_id: bool, vendor: str) -> tuple[str, tuple]:
    """(the statement, the run's columns it reads in order); per database vendor."""
    run_attnames = tuple(name for name in columns(Run) if name in run_fields)
    # An uncorrelated scalar subquery: one nextval for the statement, not one per row.
    extra = ", (SELECT nextval(%s::regclass))" if new_id else ""
    sql = (
        f"SELECT {select_list('s', StepRun, LOCK_STEP)}, {select_list('r', Run, run_attnames)}"
        f'{extra} FROM "{STEP}" s JOIN "{RUN}" r ON r."id" = s."run_id" '
        f'WHERE s."run_id" = %s ORDER BY s."id"'
    )
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE OF s" if connection.features.has_select_for_update_of else " FOR UPDATE"
    return sql, run_attnames


@cache
def _document_sequence() -> str:
    with sql_cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [f'"{DOCUMENT}"'])
        return cursor.fetchone()[0]


DOCUMENT_INSERT = (
    "workspace_id",
    "run_id",
    "step_key",
    "title",
    "content",
    "word_count",
    "analysis",
    "data",
    "created_at",
)


def insert_document_statements(
    document_id: int, values: dict, parent_ids: list[int]
) -> list[tuple[str, list]]:
    """The INSERTs of a document whose id is already taken (`lock(..., new_document_id=True)`)
    and of its links to its parents, for `execute_all` with the step's other writes."""
    names, marks, args = _document_row(values)
    statements = [
        (f'INSERT INTO "{DOCUMENT}" ("id", {names}) VALUES (%s, {marks})', [document_id, *args])
    ]
    if parent_ids:
        statements.append(_links(document_id, parent_ids))
    return statements


def insert_document(values: dict, parent_ids: list[int]) -> int:
    """INSERT the document and its links to its parents: one statement on PostgreSQL (a
    data-modifying WITH), two elsewhere."""
    names, marks, args = _document_row(values)
    insert = f'INSERT INTO "{DOCUMENT}" ({names}) VALUES ({marks}) RETURNING "id"'
    with sql_cursor() as cursor:
        if parent_ids and connection.vendor == "postgresql":
            parents = ", ".join(["(%s::bigint)"] * len(parent_ids))
            cursor.execute(
                f"WITH doc AS ({insert}), links AS ({_LINK} SELECT doc.id, p.id FROM doc, "
                f"(VALUES {parents}) AS p(id)) SELECT id FROM doc",
                [*args, *parent_ids],
            )
            return cursor.fetchone()[0]
        cursor.execute(insert, args)
        document_id = cursor.fetchone()[0]
        if parent_ids:
            cursor.execute(*_links(document_id, parent_ids))
    return document_id


_LINK = f'INSERT INTO "{PARENTS}" ("from_document_id", "to_document_id")'


def _document_row(values: dict) -> tuple[str, str, list]:
    """(column names, placeholders, values) of a document's DOCUMENT_INSERT columns."""
    fields = [Document._meta.get_field(name) for name in DOCUMENT_INSERT]
    args = [field.get_db_prep_save(values[field.attname], connection) for field in fields]
    names = ", ".join(f'"{field.column}"' for field in fields)
    return names, ", ".join(["%s"] * len(fields)), args


def _links(document_id: int, parent_ids: list[int]) -> tuple[str, list]:
    pairs = ", ".join(["(%s, %s)"] * len(parent_ids))
    return f"{_LINK} VALUES {pairs}", [v for parent in parent_ids for v in (document_id, parent)]


def update_rows(model: type[Model], changes: list[tuple[int, dict]]) -> None:
    """Write different values to several rows in one UPDATE (CASE per column)."""
    if changes:
        execute(*update_rows_statement(model, changes))


def update_rows_statement(model: type[Model], changes: list[tuple[int, dict]]) -> tuple[str, list]:
    if len(changes) == 1:
        return update_statement(model, changes[0][0], changes[0][1])
    names = list(dict.fromkeys(name for _, values in changes for name in values))
    sets = []
    args: list = []
    for name in names:
        field = model._meta.get_field(name)
        branches = []
        for pk, values in changes:
            if name in values:
                branches.append("WHEN %s THEN %s")
                args += [pk, field.get_db_prep_save(values[name], connection)]
        fallback = "" if len(branches) == len(changes) else f' ELSE "{field.column}"'
        sets.append(f'"{field.column}" = CASE "id" {" ".join(branches)}{fallback} END')
    ids = [pk for pk, _ in changes]
    sql = (
        f'UPDATE "{model._meta.db_table}" SET {", ".join(sets)} '
        f'WHERE "id" IN ({", ".join(["%s"] * len(ids))})'
    )
    return sql, [*args, *ids]
