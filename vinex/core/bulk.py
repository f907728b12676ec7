"""Set-based writes for hot paths: one prepared statement executed for many rows.

Django's ``bulk_create``/``bulk_update`` build one large statement per batch (and CASE WHEN
expressions per row and field for updates); at thousands of rows per request that compilation
costs more than the database work. These helpers send plain ``INSERT``/``UPDATE`` statements with
``executemany``, converting only the values the drivers cannot take as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models


def _field(model: type[models.Model], attname: str) -> models.Field[Any, Any]:
    for field in model._meta.concrete_fields:
        if field.attname == attname:
            return field
    raise ValueError(f"{model.__name__} has no column for {attname!r}")


def _adapters(model: type[models.Model], columns: Sequence[str]) -> list[Callable[[Any], Any] | None]:
    """Per column, the conversion the driver needs (dates and times on SQLite), or None."""
    ops = connection.ops
    adapters: list[Callable[[Any], Any] | None] = []
    for column in columns:
        kind = _field(model, column).get_internal_type()
        if kind == "DateTimeField":
            adapters.append(ops.adapt_datetimefield_value)
        elif kind == "DateField":
            adapters.append(ops.adapt_datefield_value)
        else:
            adapters.append(None)
    return adapters


def _prepared(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    adapters = _adapters(model, columns)
    convert = [(i, a) for i, a in enumerate(adapters) if a is not None]
    prepared = []
    for row in rows:
        values = list(row)
        for i, adapt in convert:
            if values[i] is not None:
                values[i] = adapt(values[i])
        prepared.append(values)
    return prepared


def _column(model: type[models.Model], attname: str) -> str:
    return connection.ops.quote_name(_field(model, attname).column)


def rows_insert(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """INSERT ``rows`` (values in the order of ``columns``, given as attnames such as ``subject_id``)."""
    if not rows:
        return
    names = ", ".join(_column(model, c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({names}) VALUES ({marks})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, _prepared(model, columns, rows))


def rows_update(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """UPDATE by primary key: each row is the values of ``columns`` followed by the pk."""
    if not rows:
        return
    assignments = ", ".join(f"{_column(model, c)} = %s" for c in columns)
    sql = f"UPDATE {connection.ops.quote_name(model._meta.db_table)} SET {assignments} WHERE id = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, _prepared(model, [*columns, "id"], rows))
