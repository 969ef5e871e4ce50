"""Write many rows of one table fast, from plain tuples.

The sync writes two or so rows per event. Building a model instance per row and letting
``bulk_create`` compile the SQL value by value cost most of its time, so the hot path hands
tuples straight to the driver: ``insert_rows`` with one ``executemany``, ``upsert_rows`` the same
with ``ON CONFLICT DO UPDATE`` (current-state tables: replace columns or add to them),
``insert_new`` with multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` for rows whose
keys the caller needs.

Every concrete column but the primary key must be named (a forgotten one raises instead of
being left to a NULL or a missing default). Values go to the driver as they are: a column whose
type the backend needs adapted (JSON, dates and times) takes ``adapter(model, column)(value)``,
computed by the caller once per value (a batch shares one timestamp); ``Decimal`` goes through
untouched, as ``DatabaseOperations.adapt_decimalfield_value`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models

# The most rows one multi-row INSERT carries (under the backend's bound-parameter limit).
MAX_ROWS_PER_STATEMENT = 500


def adapter(model: type[models.Model], column: str) -> Callable[[Any], Any]:
    """What makes a Python value of ``column`` DB-ready (for JSON and date/time columns; other
    types go to the driver as they are)."""
    field = model._meta.get_field(column)
    if isinstance(field, models.JSONField):
        ops, encoder = connection.ops, field.encoder
        return lambda value: ops.adapt_json_value(value, encoder)
    if isinstance(field, models.DateField | models.TimeField):  # DateTimeField included
        return lambda value: field.get_db_prep_save(value, connection)
    return lambda value: value


def _check(model: type[models.Model], columns: Sequence[str], rows: list) -> None:
    """Every column named, and the first row's JSON values adapted (a dict would otherwise
    fail in the driver, or be taken for a mapping of parameters)."""
    fields = {f.attname: f for f in model._meta.concrete_fields if not f.primary_key}
    unknown = [c for c in columns if c not in fields]
    missing = [name for name in fields if name not in columns]
    if unknown or missing:
        raise ValueError(
            f"{model.__name__}: columns not in the table {unknown}, columns not given {missing}"
        )
    if not rows:
        return
    for column, value in zip(columns, rows[0], strict=True):
        if isinstance(fields[column], models.JSONField) and isinstance(value, dict | list):
            raise TypeError(f"{model.__name__}.{column}: pass adapter(model, column)(value)")


def _max_params() -> int:
    """Bound parameters one statement may carry: SQLite's compiled-in limit (Django assumes
    999, the limit before SQLite 3.32), 65,535 on PostgreSQL's protocol."""
    if connection.vendor == "sqlite":
        import sqlite3

        connection.ensure_connection()
        return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return connection.features.max_query_params or 65_535


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model: type[models.Model], name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _column_list(model: type[models.Model], names: Sequence[str]) -> str:
    return ", ".join(_column(model, name) for name in names)


def _insert_sql(model: type[models.Model], columns: Sequence[str], rows: int = 1) -> str:
    """``INSERT INTO table (columns) VALUES (%s, ...)``, with ``rows`` groups of values."""
    values = "(" + ", ".join(["%s"] * len(columns)) + ")"
    return (
        f"INSERT INTO {_table(model)} ({_column_list(model, columns)}) "  # noqa: S608
        f"VALUES {', '.join([values] * rows)}"
    )


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: list) -> None:
    """Insert ``rows`` (DB-ready tuples in ``columns`` order) with one ``executemany``."""
    _check(model, columns, rows)
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.executemany(_insert_sql(model, columns), rows)


def upsert_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: list,
    *,
    unique: Sequence[str],
    replace: Sequence[str] = (),
    add: Sequence[str] = (),
) -> None:
    """Insert ``rows``; where one is already stored (by the ``unique`` constraint's columns),
    set its ``replace`` columns to the new values and add the new values to its ``add``
    columns. Within one call a key must appear once."""
    if not replace and not add:
        raise ValueError("upsert_rows needs columns to replace or add to")
    _check(model, columns, rows)
    if not rows:
        return
    table = _table(model)
    sets = [f"{_column(model, c)} = EXCLUDED.{_column(model, c)}" for c in replace]
    sets += [
        f"{_column(model, c)} = {table}.{_column(model, c)} + EXCLUDED.{_column(model, c)}"
        for c in add
    ]
    sql = (
        f"{_insert_sql(model, columns)}"
        f" ON CONFLICT ({_column_list(model, unique)}) DO UPDATE SET {', '.join(sets)}"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def add_to_rows(model: type[models.Model], column: str, key: Sequence[str], rows: list) -> int:
    """Add to ``column`` of stored rows: ``rows`` are (amount, *key values); returns how many
    rows were changed (a key not stored changes nothing)."""
    if not rows:
        return 0
    target = _column(model, column)
    where = " AND ".join(f"{_column(model, k)} = %s" for k in key)
    sql = f"UPDATE {_table(model)} SET {target} = {target} + %s WHERE {where}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
        return cursor.rowcount


def insert_new(
    model: type[models.Model],
    columns: Sequence[str],
    rows: list,
    *,
    unique: Sequence[str],
    returning: Sequence[str],
) -> list[tuple]:
    """Insert the rows (DB-ready tuples in ``columns`` order) not already stored, by the
    ``unique`` constraint's columns, and return ``returning`` of each row inserted; rows that
    were there are skipped, not updated."""
    _check(model, columns, rows)
    if not rows:
        return []
    chunk = max(1, min(MAX_ROWS_PER_STATEMENT, _max_params() // len(columns)))
    tail = (
        f" ON CONFLICT ({_column_list(model, unique)}) DO NOTHING"
        f" RETURNING {_column_list(model, returning)}"
    )
    inserted: list[tuple] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            params = [value for row in part for value in row]
            cursor.execute(_insert_sql(model, columns, len(part)) + tail, params)
            inserted += cursor.fetchall()
    return inserted
