"""Who a new or changed subject might be: candidates from other agencies, found through indexed lookups.

A batch of a thousand subjects against ten million must not scan anybody: each lookup reads one index
(A-number, FBI number, state id, the folded name) with the batch's values in an IN list, and only the
few subjects found are scored by ``vinex.linkage.engine.pairs_score``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
from django.db import connection

from vinex.core.bulk import rows_select
from vinex.custody.models import Agency, Subject

_COLUMNS = ("id", "agency_id", "person_id", "first_name", "last_name", "date_of_birth", "country_of_birth",
            "a_number", "fbi_number", "state_id", "name_key")
# A name shared by more people than this on one birthday is no lead worth scoring (nor a likely one).
_MAX_PER_NAME = 20
_CHUNK = 400  # (name, birthday) probes per statement: 800 parameters, under SQLite's limit
_STRONG = ("a_number", "fbi_number", "state_id")
# Column and table names come from the model; every value is a bound parameter.
_BY_NAME_SQL = "SELECT {columns} FROM {table} WHERE {probes}"


@dataclass(frozen=True, slots=True)
class Identity:
    """What linkage compares of a subject."""

    id: int
    agency_id: int
    person_id: int
    first_name: str
    last_name: str
    date_of_birth: date | None
    country_of_birth: str
    a_number: str
    fbi_number: str
    state_id: str
    name_key: str

    def swapped_key(self) -> str:
        first, _, last = self.name_key.partition("|")
        return f"{last}|{first}"


def identities_load(subject_ids: Sequence[int]) -> list[Identity]:
    """The identities of these subjects."""
    return [Identity(*row) for row in rows_select(Subject, _COLUMNS, among=("id", list(subject_ids)))]


def candidates_find(subjects: Sequence[Identity], *, names: bool = True) -> tuple[
    list[Identity], set[tuple[str, str]]
]:
    """Subjects of other agencies and other people that share a strong identifier with one of ``subjects``,
    or (when ``names``) its name (either order) and date of birth (or the day and month swapped); and the
    candidate pairs, as (subject id, candidate id) in text, the form of ``record_id``."""
    leads: dict[tuple[str, Any], list[Identity]] = defaultdict(list)
    for column in _STRONG:
        values = sorted({getattr(s, column) for s in subjects if getattr(s, column)})
        for found in _load(column, values) if values else []:
            leads[(column, getattr(found, column))].append(found)
    births = sorted({(k, d) for s in subjects if names and s.date_of_birth for k in (s.name_key, s.swapped_key())
                     for d in _birthdays(s.date_of_birth)})
    for found in _by_name_and_birth(births):
        leads[("name", (found.name_key, found.date_of_birth))].append(found)
    pairs: set[tuple[str, str]] = set()
    chosen: dict[int, Identity] = {}
    for subject in subjects:
        for candidate in _leads_of(subject, leads):
            if _other(subject, candidate):
                pairs.add((str(subject.id), str(candidate.id)))
                chosen[candidate.id] = candidate
    return list(chosen.values()), pairs


def _leads_of(subject: Identity, leads: dict[tuple[str, Any], list[Identity]]) -> list[Identity]:
    """The candidates found for this subject in particular (few per name and birthday: see _MAX_PER_NAME)."""
    found = [c for column in _STRONG if getattr(subject, column)
             for c in leads.get((column, getattr(subject, column)), ())]
    if subject.date_of_birth:
        for key in (subject.name_key, subject.swapped_key()):
            for day in _birthdays(subject.date_of_birth):
                found.extend(leads.get(("name", (key, day)), [])[:_MAX_PER_NAME])
    return found


def identifier_leads(subject_ids: Sequence[int]) -> list[tuple[Identity, Identity]]:
    """(subject, candidate) for each of these subjects and each subject of another agency and another person
    that shares its A-number, FBI number or state id: the leads the deterministic rules decide on ingest.

    One statement per chunk of the batch: the subjects with an identifier, joined to everyone else through
    the index of each identifier (blank ones never join), so the cost follows the batch, not the people.
    """
    found: list[tuple[Identity, Identity]] = []
    wanted = list(subject_ids)
    chunk = connection.features.max_query_params or len(wanted) or 1
    with connection.cursor() as cursor:
        for start in range(0, len(wanted), chunk):
            part = wanted[start:start + chunk]
            cursor.execute(_identifier_leads_sql(len(part)), part)
            width = len(_COLUMNS)
            found.extend((_identity(row[:width]), _identity(row[width:])) for row in cursor.fetchall())
    return found


def _identifier_leads_sql(count: int) -> str:
    quote = connection.ops.quote_name
    by_attname = {f.attname: f.column for f in Subject._meta.concrete_fields}
    table = quote(Subject._meta.db_table)

    def col(alias: str, name: str) -> str:
        return f"{alias}.{quote(by_attname[name])}"

    names = ", ".join(quote(by_attname[c]) for c in _COLUMNS)
    known = " OR ".join(f"{quote(by_attname[c])} <> ''" for c in _STRONG)
    both = ", ".join([*(col("b", c) for c in _COLUMNS), *(col("c", c) for c in _COLUMNS)])
    others = " AND ".join(f"{col('c', c)} <> {col('b', c)}" for c in ("agency_id", "person_id"))
    # Column and table names come from the model; the ids are bound parameters. On the candidate's side the
    # condition is written as the partial indexes' own (``NOT (x = '')``), so SQLite sees it may use them;
    # CROSS JOIN makes SQLite read the batch first and probe an index for each (PostgreSQL plans it freely).
    joins = " UNION ALL ".join(
        f"SELECT {both} FROM batch b CROSS JOIN {table} c WHERE {col('c', key)} = {col('b', key)} "  # noqa: S608
        f"AND {col('b', key)} <> '' AND NOT ({col('c', key)} = '') AND {others}" for key in _STRONG)
    marks = ", ".join(["%s"] * count)
    return (f"WITH batch AS (SELECT {names} FROM {table} WHERE {quote('id')} IN ({marks}) AND ({known})) "  # noqa: S608
            f"{joins}")


def _load(column: str, values: list[Any]) -> list[Identity]:
    return [Identity(*row) for row in rows_select(Subject, _COLUMNS, among=(column, values))]


def _by_name_and_birth(births: Sequence[tuple[str, date]]) -> list[Identity]:
    """Subjects with one of these (name key, date of birth) pairs: each pair one probe of the index on both."""
    if not births:
        return []
    quote = connection.ops.quote_name
    by_attname = {f.attname: f.column for f in Subject._meta.concrete_fields}
    columns = ", ".join(quote(by_attname[c]) for c in _COLUMNS)
    probe = f"({quote('name_key')} = %s AND {quote('date_of_birth')} = %s)"
    found: list[Identity] = []
    with connection.cursor() as cursor:
        for start in range(0, len(births), _CHUNK):
            chunk = births[start:start + _CHUNK]
            params = [v for key, day in chunk for v in (key, connection.ops.adapt_datefield_value(day))]
            sql = _BY_NAME_SQL.format(columns=columns, table=quote(Subject._meta.db_table),
                                      probes=" OR ".join([probe] * len(chunk)))
            cursor.execute(sql, params)
            found.extend(_identity(row) for row in cursor.fetchall())
    return found


def _identity(row: Sequence[Any]) -> Identity:
    values = list(row)
    if isinstance(values[5], str):  # SQLite hands raw statements' dates back as text
        values[5] = date.fromisoformat(values[5])
    return Identity(*values)


def _birthdays(day: date) -> set[date]:
    try:
        return {day, day.replace(month=day.day, day=day.month)}
    except ValueError:
        return {day}


def _other(subject: Identity, candidate: Identity) -> bool:
    return candidate.agency_id != subject.agency_id and candidate.person_id != subject.person_id


def records_frame(identities: Iterable[Identity], states: dict[int, str]) -> pl.DataFrame:
    """The records ``pairs_score`` takes, one per identity (``record_id`` is the subject id)."""
    rows = [{"record_id": str(i.id), "first_name": i.first_name, "last_name": i.last_name,
             "date_of_birth": i.date_of_birth.isoformat() if i.date_of_birth else None,
             "country_of_birth": i.country_of_birth or None, "a_number": i.a_number or None,
             "fbi_number": i.fbi_number or None, "state_id": i.state_id or None,
             "state": states.get(i.agency_id)} for i in identities]
    return pl.DataFrame(rows, schema={c: pl.Utf8 for c in ("record_id", "first_name", "last_name", "date_of_birth",
                                                             "country_of_birth", "a_number", "fbi_number",
                                                             "state_id", "state")})


def agency_states(agency_ids: Iterable[int]) -> dict[int, str]:
    """The state of each agency (``US-XX`` from its jurisdiction code): a state id means something only there."""
    codes = Agency.objects.filter(pk__in=set(agency_ids)).values_list("pk", "jurisdiction_code")
    return {pk: "-".join(code.split("-")[:2]).upper() for pk, code in codes}
