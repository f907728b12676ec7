"""Set-based writes for hot paths: one prepared statement executed for many rows.

Django's ``bulk_create``/``bulk_update`` build one large statement per batch (and CASE WHEN
expressions per row and field for updates); at thousands of rows per request that compilation
costs more than the database work. These helpers send plain ``INSERT``/``UPDATE`` statements with
``executemany`` on SQLite, converting only the values the driver cannot take as they are, and one
statement whose rows come as a single JSON parameter on PostgreSQL (see ``_json_execute``).

They know how to pass plain values only (text, numbers, booleans, dates and times, and keys of other
rows). A column whose field converts its values itself (an encrypted field, JSON) is refused with
``UnsupportedField`` before anything is read or written: written raw, an encrypted value would be
stored in clear.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import orjson
from django.db import connection, models


class UnsupportedField(TypeError):
    """A column whose field needs a conversion these helpers do not do (an encrypted field, JSON, …)."""


# The field classes whose values the drivers take as they are (dates and times on SQLite are converted
# below). Exact classes, not subclasses: a subclass may convert its values (``EncryptedTextField`` is a
# ``TextField``), and writing around that conversion would store what the field never meant to store.
_PLAIN_FIELDS: frozenset[type[models.Field[Any, Any]]] = frozenset({
    models.AutoField, models.BigAutoField, models.SmallAutoField, models.BooleanField, models.CharField,
    models.SlugField, models.TextField, models.EmailField, models.IntegerField, models.BigIntegerField,
    models.SmallIntegerField, models.PositiveIntegerField, models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField, models.FloatField, models.DateField, models.DateTimeField,
})


@lru_cache(maxsize=256)
def _fields(model: type[models.Model]) -> dict[str, models.Field[Any, Any]]:
    return {field.attname: field for field in model._meta.concrete_fields}


def _field(model: type[models.Model], attname: str) -> models.Field[Any, Any]:
    field = _fields(model).get(attname)
    if field is None:
        raise ValueError(f"{model.__name__} has no column for {attname!r}")
    stored = field.target_field if isinstance(field, models.ForeignKey) else field  # a key holds its row's id
    if type(stored) not in _PLAIN_FIELDS:
        raise UnsupportedField(f"{model.__name__}.{field.name} ({type(field).__name__}) converts its values itself; "
                               "write it through the ORM")
    return field


# Cached by value: an event's time is written to the event and to its subject, a batch's clock
# reading to every row, and dates of birth repeat. Equal aware datetimes are the same instant, so they
# share one text whatever their time zones.
@lru_cache(maxsize=65_536)
def _sqlite_datetime(value: datetime) -> str:
    # What Django stores on SQLite with USE_TZ: naive UTC in ISO format with a space. Shifting by the
    # offset is what astimezone(UTC) does, without building a new aware datetime first.
    offset = value.utcoffset()
    if offset:
        value = value - offset
    return value.replace(tzinfo=None).isoformat(" ")


_sqlite_date = lru_cache(maxsize=65_536)(date.isoformat)


def _adapters(model: type[models.Model], columns: Sequence[str]) -> tuple[Callable[[Any], Any] | None, ...]:
    """Per column, the conversion the driver needs, or None (psycopg takes dates and times as they are)."""
    return _adapters_for(model, tuple(columns), connection.vendor)


@lru_cache(maxsize=1024)  # the same few column lists come back on every batch
def _adapters_for(model: type[models.Model], columns: tuple[str, ...], vendor: str) -> tuple[
    Callable[[Any], Any] | None, ...
]:
    kinds = [_field(model, column).get_internal_type() for column in columns]  # refuses what it cannot convert
    if vendor != "sqlite":
        return (None,) * len(columns)
    adapters: list[Callable[[Any], Any] | None] = []
    for kind in kinds:
        if kind == "DateTimeField":
            adapters.append(_sqlite_datetime)
        elif kind == "DateField":
            adapters.append(_sqlite_date)
        else:
            adapters.append(None)
    return tuple(adapters)


def rows_prepare(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """``rows`` as the driver takes them (on SQLite, dates and times as text), as lists that can still be
    changed in place: conversion that callers can do before taking a lock, and pass on with ``prepared``."""
    return _converted(rows, _adapters(model, columns))


def _prepared(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Sequence[
    Sequence[Any]
]:
    adapters = _adapters(model, columns)
    return _converted(rows, adapters) if any(adapters) else rows


def _converted(rows: Sequence[Sequence[Any]], adapters: Sequence[Callable[[Any], Any] | None]) -> list[list[Any]]:
    converted = [list(row) for row in rows]
    for i, adapt in enumerate(adapters):
        if adapt is None:
            continue
        for values in converted:
            value = values[i]
            if value is not None:
                values[i] = adapt(value)
    return converted


def _column(model: type[models.Model], attname: str) -> str:
    return connection.ops.quote_name(_field(model, attname).column)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _readers(model: type[models.Model], columns: Sequence[str]) -> list[int]:
    """Positions of the datetime columns, which SQLite returns naive (in UTC, as Django stored them).

    Dates and booleans already come back converted (Django registers SQLite converters by column type);
    psycopg returns aware datetimes.
    """
    if connection.vendor != "sqlite":
        return []
    return [i for i, c in enumerate(columns) if _field(model, c).get_internal_type() == "DateTimeField"]


def rows_select(
    model: type[models.Model], columns: Sequence[str], *, among: tuple[str, Sequence[Any]],
    where: Sequence[tuple[str, Any]] = (), chunk: int = 900,
) -> list[tuple[Any, ...]]:
    """``columns`` of the rows whose ``among[0]`` is one of ``among[1]`` and that match the ``where``
    equalities, with values as the ORM returns them (aware datetimes, dates, booleans), in no order.

    The IN list goes in chunks of ``chunk`` parameters, under SQLite's limit on any build; building the
    ORM's lookup for thousands of values would cost more than the query.
    """
    names = ", ".join(_column(model, c) for c in columns)
    conditions = [f"{_column(model, c)} = %s" for c, _ in where]
    fixed = [value for _, value in where]
    readers = _readers(model, columns)
    wanted, found = list(among[1]), []
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(wanted), chunk):
            part = wanted[start : start + chunk]
            test = " AND ".join([*conditions, f"{_column(model, among[0])} IN ({', '.join(['%s'] * len(part))})"])
            cursor.execute(f"SELECT {names} FROM {table} WHERE {test}", [*fixed, *part])  # noqa: S608
            found.extend(cursor.fetchall())
    return rows_aware(found, readers)


def rows_aware(found: Sequence[Sequence[Any]], times: Sequence[int]) -> list[tuple[Any, ...]]:
    """Rows as read, as tuples, the datetimes at positions ``times`` made aware (SQLite gives back naive UTC, as
    Django stored it)."""
    if not times:
        return [tuple(row) for row in found]
    converted = []
    for row in found:
        cells = list(row)
        for i in times:
            if cells[i] is not None:
                cells[i] = _aware(cells[i])
        converted.append(tuple(cells))
    return converted


def rows_insert(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
                prepared: bool = False) -> None:
    """INSERT ``rows`` (values in the order of ``columns``, given as attnames such as ``subject_id``);
    ``prepared`` when they come from ``rows_prepare``."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        if len(rows) == 1:  # an event pushed alone: a plain statement, prepared once per connection
            with connection.cursor() as cursor:
                cursor.execute(_values_insert_sql(model, tuple(columns)), rows[0])
            return
        _json_execute(_json_insert_sql(model, tuple(columns)), rows)
        return
    names = ", ".join(_column(model, c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({names}) VALUES ({marks})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows if prepared else _prepared(model, columns, rows))


def rows_update(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *, match: Sequence[str] = ("id",),
    prepared: bool = False,
) -> int:
    """UPDATE rows picked by equality on ``match``: each row is the new values of ``columns`` followed by
    the values to match (``prepared`` when they come from ``rows_prepare`` for ``[*columns, *match]``).
    Returns how many rows changed (a guard in ``match`` may leave some alone)."""
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        if len(rows) == 1:
            with connection.cursor() as cursor:
                cursor.execute(_values_update_sql(model, tuple(columns), tuple(match)), rows[0])
                return int(cursor.rowcount)
        return _json_execute(_json_update_sql(model, tuple(columns), tuple(match)), rows)
    assignments = ", ".join(f"{_column(model, c)} = %s" for c in columns)
    condition = " AND ".join(f"{_column(model, c)} = %s" for c in match)
    sql = f"UPDATE {connection.ops.quote_name(model._meta.db_table)} SET {assignments} WHERE {condition}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows if prepared else _prepared(model, [*columns, *match], rows))
        return int(cursor.rowcount)


# --- PostgreSQL: many rows in one statement -----------------------------------------------------------
# psycopg writes every parameter into the statement's text, quoting in Python, so a statement per row
# (``executemany``), or an array per column, costs a batch several times the CPU of its rows, under the
# ingest's locks. The rows go instead as one JSON parameter (one string, quoted in C), each value cast to
# its column's type in the statement. Only plain values reach here (``_field`` refuses the rest), and
# psycopg takes them unconverted, so the rows are the same whether ``prepared`` or not.


def _json_execute(sql: str, rows: Sequence[Sequence[Any]]) -> int:
    """Run ``sql`` with ``rows`` as its one JSON parameter; returns how many rows it changed."""
    with connection.cursor() as cursor:
        # Aware times keep their offsets (RFC 3339), which timestamptz reads as the same instants.
        cursor.execute(sql, [orjson.dumps(rows).decode()])
        return int(cursor.rowcount)


def _json_rows(model: type[models.Model], columns: Sequence[str]) -> str:
    """A subquery of the JSON rows, each value cast to its column's type, named ``v.c0``, ``v.c1``… by position
    (an UPDATE may name a column both to set and to match)."""
    values = ", ".join(f"(r->>{i})::{_pg_type(_field(model, c))}" for i, c in enumerate(columns))
    names = ", ".join(f"c{i}" for i in range(len(columns)))
    return f"(SELECT {values} FROM json_array_elements(%s::json) AS r) AS v({names})"  # noqa: S608


def _pg_type(field: models.Field[Any, Any]) -> str:
    """The PostgreSQL type of a column (a key's is its target's, ``bigint``), to cast its JSON text to."""
    kind = field.db_type(connection)
    if kind is None or not kind.replace(" ", "").replace("(", "").replace(")", "").isalnum():
        raise UnsupportedField(f"no type to cast {field.name} to ({kind})")
    return kind


# One row goes as plain parameters instead: with values bound on the server (see settings) the statement is
# prepared once per connection and PostgreSQL neither parses JSON nor casts text for it.


@lru_cache(maxsize=256)
def _values_insert_sql(model: type[models.Model], columns: tuple[str, ...]) -> str:
    names = ", ".join(_column(model, c) for c in columns)
    marks = ", ".join(f"%s::{_pg_type(_field(model, c))}" for c in columns)
    return f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({names}) VALUES ({marks})"  # noqa: S608


@lru_cache(maxsize=256)
def _values_update_sql(model: type[models.Model], columns: tuple[str, ...], match: tuple[str, ...]) -> str:
    assignments = ", ".join(f"{_column(model, c)} = %s::{_pg_type(_field(model, c))}" for c in columns)
    condition = " AND ".join(f"{_column(model, c)} = %s::{_pg_type(_field(model, c))}" for c in match)
    return f"UPDATE {connection.ops.quote_name(model._meta.db_table)} SET {assignments} WHERE {condition}"  # noqa: S608


@lru_cache(maxsize=256)
def _json_insert_sql(model: type[models.Model], columns: tuple[str, ...]) -> str:
    names = ", ".join(_column(model, c) for c in columns)
    every = ", ".join(f"v.c{i}" for i in range(len(columns)))
    return (f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({names}) "  # noqa: S608
            f"SELECT {every} FROM {_json_rows(model, columns)}")


@lru_cache(maxsize=256)
def _json_update_sql(model: type[models.Model], columns: tuple[str, ...], match: tuple[str, ...]) -> str:
    table = connection.ops.quote_name(model._meta.db_table)
    assignments = ", ".join(f"{_column(model, c)} = v.c{i}" for i, c in enumerate(columns))
    condition = " AND ".join(f"{table}.{_column(model, c)} = v.c{len(columns) + i}" for i, c in enumerate(match))
    return (f"UPDATE {table} SET {assignments} FROM {_json_rows(model, (*columns, *match))} "  # noqa: S608
            f"WHERE {condition}")


def ids_reserve(model: type[models.Model], count: int) -> list[int]:
    """``count`` fresh primary keys for ``model``, so rows can be inserted with their ids known.

    Call inside ``transaction.atomic()``: on SQLite vinex opens transactions IMMEDIATE, so the write
    lock is held and nobody else can take the same ids; on PostgreSQL the ids come from the sequence.
    """
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)"
            cursor.execute(sql, [table, count])
            return [row[0] for row in cursor.fetchall()]
        if connection.vendor == "sqlite":
            # AUTOINCREMENT never reuses an id, so start after the highest ever handed out.
            highest = (
                "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "  # noqa: S608
                f"coalesce((SELECT max(id) FROM {connection.ops.quote_name(table)}), 0))"
            )
            cursor.execute(highest, [table])
            start = int(cursor.fetchone()[0]) + 1
            return list(range(start, start + count))
    raise NotImplementedError(f"ids_reserve does not support {connection.vendor}")
