"""Insert many rows with one ``executemany`` (``bulk_create`` compiles SQL value by value,
which cost most of the sync's time). For rows whose ids the caller does not need back."""

from __future__ import annotations

from django.db import connection, models

# Fields whose Python value the database driver cannot take as it is.
_PREPARED = (models.DecimalField, models.JSONField, models.DateTimeField, models.DateField)


def insert_rows(model: type[models.Model], objs: list[models.Model]) -> None:
    if not objs:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    prepared = [isinstance(f, _PREPARED) for f in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    rows = []
    for obj in objs:
        row = []
        for field, prepare in zip(fields, prepared, strict=True):
            value = getattr(obj, field.attname)
            row.append(field.get_db_prep_save(value, connection) if prepare else value)
        rows.append(row)
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
