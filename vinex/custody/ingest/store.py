"""The reads and writes of event ingestion: the only SQL of ingest.

Rows go through ``vinex.core.bulk`` (one prepared statement for many rows), whose column lists here come
from the models' metadata, so a column added to ``Subject`` or ``CustodyEvent`` is read and written
without a list to update; ``bulk`` refuses a column whose field converts its values itself.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, models

from vinex.core.bulk import ids_reserve, rows_aware, rows_insert, rows_prepare, rows_select, rows_update
from vinex.core.memory import Remembered
from vinex.custody import statemachine as sm
from vinex.custody.ingest.plan import Rows
from vinex.custody.models import Agency, CustodyEvent, Facility, Person, Subject

M = TypeVar("M", bound=models.Model)

# Keeps every IN (...) list under SQLite's bound-parameter limit on any build.
IN_CHUNK = 900


def _columns(model: type[models.Model], *, without: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields if f.attname not in without)


def _defaults(model: type[models.Model], columns: Sequence[str]) -> dict[str, Any]:
    fields = {f.attname: f for f in model._meta.concrete_fields}
    return {column: fields[column].get_default() for column in columns}


SUBJECT_COLUMNS = _columns(Subject)
SUBJECT_BLANK = _defaults(Subject, SUBJECT_COLUMNS)  # a new subject's values before its first event's
EVENT_COLUMNS = _columns(CustodyEvent, without=("id",))  # ids come from the database, in arrival order
_EVENT_ALL_COLUMNS = _columns(CustodyEvent)
# A row's values in column order, picked in C: a plan that misses a column fails loudly (KeyError) rather
# than writing a default nobody chose.
_subject_row = itemgetter(*SUBJECT_COLUMNS)
_event_row = itemgetter(*EVENT_COLUMNS)
_event_instance_row = itemgetter(*_EVENT_ALL_COLUMNS)
_SUBJECT_ID, _SUBJECT_PERSON = SUBJECT_COLUMNS.index("id"), SUBJECT_COLUMNS.index("person_id")
_EVENT_SUBJECT, _EVENT_NOTIFIED = EVENT_COLUMNS.index("subject_id"), EVENT_COLUMNS.index("notified")
_HISTORY_COLUMNS = ("subject_id", "event_id", "type", "occurred_at", "id", "facility__code", "to_facility__code",
                    "reason", "scheduled_for", "corrects_event_id", "hearing_id", "notified")


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


# --- Reads ------------------------------------------------------------------------------------------


Converter = Callable[[Any, Any, Any], Any]


@lru_cache(maxsize=16)
def _converters(model: type[models.Model], vendor: str) -> tuple[tuple[int, tuple[Converter, ...], Any], ...]:
    """Per column of ``model`` (in ``concrete_fields`` order) that needs it, what the ORM would apply to the
    value the driver returns (JSON decoded, SQLite's dates and booleans): reading with plain SQL, the rows
    become the same instances a queryset builds, without compiling a query each time."""
    found = []
    for i, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        converters = (*connection.ops.get_db_converters(column), *column.get_db_converters(connection))
        if converters:
            found.append((i, converters, column))
    return tuple(found)


def _instance(model: type[M], row: Sequence[Any]) -> M:
    """A ``model`` instance from a row of all its columns, as the ORM reads it."""
    values = list(row)
    for i, converters, column in _converters(model, connection.vendor):
        for convert in converters:
            values[i] = convert(values[i], column, connection)
    return model.from_db(connection.alias, [f.attname for f in model._meta.concrete_fields], values)


@lru_cache(maxsize=4)
def _agency_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    agency_columns = ", ".join(f"a.{quote(f.column)}" for f in Agency._meta.concrete_fields)
    facility_columns = ", ".join(f"f.{quote(f.column)}" for f in Facility._meta.concrete_fields)
    return (f"SELECT {agency_columns}, {facility_columns} FROM {quote(Agency._meta.db_table)} a "  # noqa: S608
            f"LEFT JOIN {quote(Facility._meta.db_table)} f ON f.{quote('agency_id')} = a.{quote('id')} "
            f"WHERE a.{quote('id')} = %s")


def agency_and_facilities(agency_id: int, codes: Iterable[str] = ()) -> tuple[Agency, dict[str, Facility], bool]:
    """The agency and its facilities by code, in one statement, or as this process read them less than
    ``VINEX_AGENCY_CACHE_SECONDS`` ago when those name every facility in ``codes``; the last value says which.

    An agency pushing single events sends hundreds a second, and reading these each time was a tenth of a
    request. A facility the agency has just added is read at once (its code is not among those remembered);
    a change to the agency's name or support line reaches its messages within the lifetime, and at once in
    the process that made it (``agency_forget``).
    """
    lifetime = settings.VINEX_AGENCY_CACHE_SECONDS
    remembered = _RECENT_AGENCIES.get(agency_id) if lifetime > 0 else None
    if remembered is not None and remembered[1].keys() >= set(codes):
        return remembered[0], remembered[1], True
    agency, facilities = _agency_and_facilities_read(agency_id)
    _RECENT_AGENCIES.put(agency_id, (agency, facilities), lifetime)
    return agency, facilities, False


def agency_forget(agency_id: int | None = None) -> None:
    """Read the agency (every agency, with None) again on its next batch."""
    _RECENT_AGENCIES.forget(agency_id)


# What ``agency_and_facilities`` read, by agency id. The instances are shared by the process's threads, which
# only read them.
_RECENT_AGENCIES: Remembered[int, tuple[Agency, dict[str, Facility]]] = Remembered(size=4096)


def _agency_and_facilities_read(agency_id: int) -> tuple[Agency, dict[str, Facility]]:
    width = len(Agency._meta.concrete_fields)
    with connection.cursor() as cursor:
        cursor.execute(_agency_sql(connection.vendor), [agency_id])
        rows = cursor.fetchall()
    if not rows:
        raise Agency.DoesNotExist(f"no agency {agency_id}")
    agency = _instance(Agency, rows[0][:width])
    facilities = {}
    for row in rows:
        if row[width] is not None:
            facility = _instance(Facility, row[width:])
            facility.agency = agency
            facilities[facility.code] = facility
    return agency, facilities


def commits_seen() -> int | None:
    """On SQLite, a number that changes whenever another connection commits (``PRAGMA data_version``): equal
    before some reads and under the write lock, nothing the reads saw can have changed. None elsewhere."""
    if connection.vendor != "sqlite":
        return None
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA data_version")
        return int(cursor.fetchone()[0])


def event_ids_known(agency_id: int, event_ids: Sequence[str]) -> set[str]:
    """Which of these ids the agency's recorded events already carry."""
    return {row[0] for row in _agency_rows(CustodyEvent, ("event_id",), "event_id", agency_id, event_ids)}


def subject_rows(agency_id: int, keys: Sequence[str]) -> list[tuple[Any, ...]]:
    """The agency's stored subjects with these ids, as rows of ``SUBJECT_COLUMNS``."""
    return _agency_rows(Subject, SUBJECT_COLUMNS, "agency_subject_id", agency_id, keys)


def _agency_rows(model: type[models.Model], columns: tuple[str, ...], key: str, agency_id: int,
                 keys: Sequence[str]) -> list[tuple[Any, ...]]:
    """``rows_select`` for the agency's rows with these keys. A small batch (an agency pushing events one at
    a time) runs a statement written once per size, as the ORM returns the values (aware times)."""
    if not keys:
        return []
    if len(keys) > _SMALL:
        return rows_select(model, columns, among=(key, keys), where=[("agency_id", agency_id)])
    sql, times = _agency_rows_sql(model, columns, key, len(keys), connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [agency_id, *keys])
        found = cursor.fetchall()
    return rows_aware(found, times)


_SMALL = 16  # keys of a small batch; a statement per size is kept for up to this many


@lru_cache(maxsize=4 * _SMALL)
def _agency_rows_sql(model: type[models.Model], columns: tuple[str, ...], key: str, count: int, vendor: str, *,
                     nulls_before: int = 0, nulls_after: int = 0) -> tuple[str, tuple[int, ...]]:
    """The statement and the positions of the times to make aware in its rows; the select list can have NULLs
    around the columns (to line it up with another in a union)."""
    fields = {f.attname: f for f in model._meta.concrete_fields}
    quote = connection.ops.quote_name
    names = ", ".join(["NULL"] * nulls_before + [quote(fields[c].column) for c in columns] + ["NULL"] * nulls_after)
    marks = ", ".join(["%s"] * count)
    sql = (f"SELECT {names} FROM {quote(model._meta.db_table)} "  # noqa: S608
           f"WHERE {quote(fields['agency_id'].column)} = %s AND {quote(fields[key].column)} IN ({marks})")
    times = tuple(nulls_before + i for i, c in enumerate(columns)
                  if vendor == "sqlite" and fields[c].get_internal_type() == "DateTimeField")
    return sql, times


def events_known_and_subjects(agency_id: int, event_ids: Sequence[str],
                              keys: Sequence[str]) -> tuple[set[str], list[tuple[Any, ...]]]:
    """``event_ids_known`` and ``subject_rows``: for a small batch (an agency pushing events one at a time) in
    one statement, which saves a round trip to the database on every single event."""
    if not event_ids or not keys or len(event_ids) > _SMALL or len(keys) > _SMALL:
        return event_ids_known(agency_id, event_ids), subject_rows(agency_id, keys)
    sql, times = _known_and_subjects_sql(len(keys), len(event_ids), connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [agency_id, *keys, agency_id, *event_ids])
        found = cursor.fetchall()
    known = {row[-1] for row in found if row[-1] is not None}
    return known, rows_aware([row[:-1] for row in found if row[-1] is None], times)


@lru_cache(maxsize=4 * _SMALL)
def _known_and_subjects_sql(keys: int, event_ids: int, vendor: str) -> tuple[str, tuple[int, ...]]:
    # The subjects first: SQLite takes the columns' declared types (which say how to read times) from there,
    # PostgreSQL the types of the other branch's NULLs. The last column tells the branches apart.
    subjects, times = _agency_rows_sql(Subject, SUBJECT_COLUMNS, "agency_subject_id", keys, vendor, nulls_after=1)
    known, _ = _agency_rows_sql(CustodyEvent, ("event_id",), "event_id", event_ids, vendor,
                                nulls_before=len(SUBJECT_COLUMNS))
    return f"{subjects} UNION ALL {known}", times


def facility_codes(facilities: Mapping[str, Facility], rows: Sequence[tuple[Any, ...]]) -> dict[int | None, str]:
    """Code of the facility of each subject row; a subject may still be held at another agency's."""
    codes: dict[int | None, str] = {f.pk: f.code for f in facilities.values()}
    column = SUBJECT_COLUMNS.index("facility_id")
    missing = {row[column] for row in rows} - set(codes) - {None}
    if missing:
        codes.update(Facility.objects.filter(pk__in=missing).values_list("pk", "code"))
    return codes


def histories(subject_ids: list[int]) -> dict[int, list[sm.EventFacts]]:
    """The stored event history of each of these subjects."""
    found: dict[int, list[sm.EventFacts]] = defaultdict(list)
    for chunk in _chunks(subject_ids):
        for row in CustodyEvent.objects.filter(subject_id__in=chunk).values_list(*_HISTORY_COLUMNS):
            found[row[0]].append(sm.EventFacts(
                event_id=row[1], type=row[2], occurred_at=row[3], seq=row[4], facility_code=row[5],
                to_facility_code=row[6], reason=row[7], scheduled_for=row[8], corrects_event_id=row[9],
                hearing_id=row[10], notified=row[11],
            ))
    return found


def events_load(agency_id: int, event_ids: Sequence[str]) -> list[CustodyEvent]:
    """The agency's events with these ids, with what rendering a message about them reads."""
    events: list[CustodyEvent] = []
    related = ("subject__agency", "subject__facility", "facility", "to_facility")
    for chunk in _chunks(sorted(event_ids)):
        events.extend(CustodyEvent.objects.filter(agency_id=agency_id, event_id__in=chunk).select_related(*related))
    return events


def events_built(agency: Agency, facilities: Mapping[str, Facility], prepared: Prepared,
                 event_ids: set[str]) -> list[CustodyEvent]:
    """The batch's new events with these ids (written by ``events_write``), in arrival order, as ``events_load``
    would read them back: each with its subject as just written, the agency and the facilities. Built from
    the values written rather than read again, which cost a four-table join and its compilation."""
    by_id = {f.pk: f for f in facilities.values()}
    subjects: dict[int, Subject] = {}
    built = []
    for record, values in prepared.rows.events:
        if values["event_id"] not in event_ids:
            continue
        subject = subjects.get(record.values["id"])
        if subject is None:
            subject = subjects[record.values["id"]] = _subject_built(agency, by_id, record.values)
        event = CustodyEvent.from_db(connection.alias, _EVENT_ALL_COLUMNS, _as_read(_event_instance_row(values)))
        event.agency, event.subject = agency, subject
        event.facility = by_id[values["facility_id"]]
        event.to_facility = by_id[values["to_facility_id"]] if values["to_facility_id"] is not None else None
        built.append(event)
    return built


def _subject_built(agency: Agency, facilities: Mapping[int, Facility], values: Mapping[str, Any]) -> Subject:
    subject = Subject.from_db(connection.alias, SUBJECT_COLUMNS, _as_read(_subject_row(values)))
    subject.agency = agency
    facility_id = values["facility_id"]
    if facility_id is None:
        subject.facility = None
    else:  # a subject may still be held at another agency's facility
        subject.facility = facilities.get(facility_id) or Facility.objects.get(pk=facility_id)
    return subject


def _as_read(row: Sequence[Any]) -> list[Any]:
    """Times in UTC, as the database gives them back (an agency sends its own offsets)."""
    return [v.astimezone(UTC) if isinstance(v, datetime) and v.tzinfo not in (None, UTC) else v for v in row]


# --- Writes -----------------------------------------------------------------------------------------


_INGEST_LOCK_SPACE = 7301  # PostgreSQL advisory-lock namespace of event ingestion: one key per agency
_SUBJECT_LOCK_SPACE = 7303  # one key per (agency, subject) and per (agency, event id); 7302 is linkage's merges
_RELEASE_GUARD_LOCK_SPACE = 7304  # one key per agency, held by a batch whose releases are about to notify
# Batches naming more subjects and events than this lock the whole agency: one key instead of thousands
# (PostgreSQL's lock table is shared by every connection).
_KEYED_LOCKS_UP_TO = 32


def ingest_lock(agency_id: int, *, subject_keys: Sequence[str], event_ids: Sequence[str]) -> None:
    """On PostgreSQL, hold until commit what a batch needs to itself: each of its subjects (their history,
    state and row) and each of its event ids (one agency's id names one event, whichever subject a buggy
    feed gives it). Two batches about different people of one agency go on side by side; a large batch
    takes the agency's key exclusively, which every small batch also holds (shared) before its own keys.
    Keys are taken in one statement in ascending order, so two batches never wait for each other in a
    circle. SQLite's IMMEDIATE transactions already serialise writers."""
    if connection.vendor != "postgresql":
        return
    keys = sorted({_lock_key(agency_id, "s", k) for k in subject_keys}
                  | {_lock_key(agency_id, "e", e) for e in event_ids})
    with connection.cursor() as cursor:
        if len(keys) > _KEYED_LOCKS_UP_TO:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_INGEST_LOCK_SPACE, agency_id])
            return
        # Select-list items are evaluated left to right: the agency's shared key first, then ascending keys.
        cursor.execute(_keyed_lock_sql(len(keys)), [_INGEST_LOCK_SPACE, agency_id,
                                                    *(v for k in keys for v in (_SUBJECT_LOCK_SPACE, k))])


def release_guard_lock(agency_id: int) -> None:
    """On PostgreSQL, one batch at a time per agency from here to commit: the false-release guard counts the
    agency's recent releases, and a batch must see those of the batch before it (batches about different
    people no longer wait for each other otherwise)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_RELEASE_GUARD_LOCK_SPACE, agency_id])


def _lock_key(agency_id: int, kind: str, key: str) -> int:
    """A stable signed 32-bit key (two different subjects may share one: they then merely wait in turn)."""
    digest = zlib.crc32(f"{agency_id}\x1f{kind}\x1f{key}".encode())
    return digest - (1 << 32) if digest >= 1 << 31 else digest


@lru_cache(maxsize=_KEYED_LOCKS_UP_TO + 1)
def _keyed_lock_sql(count: int) -> str:
    return "SELECT " + ", ".join(["pg_advisory_xact_lock_shared(%s, %s)", *["pg_advisory_xact_lock(%s, %s)"] * count])


class Prepared:
    """A plan's rows as the driver takes them, converted before the write lock is taken."""

    __slots__ = ("event_rows", "new_subject_rows", "rows", "subject_updates")

    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self.new_subject_rows = rows_prepare(Subject, SUBJECT_COLUMNS,
                                             [_subject_row(s.values) for s in rows.new_subjects])
        self.subject_updates = {columns: rows_prepare(Subject, [*columns, "id"], values)
                                for columns, values in rows.subject_changes.items() if columns}
        self.event_rows = rows_prepare(CustodyEvent, EVENT_COLUMNS, [_event_row(values) for _, values in rows.events])


def subjects_write(prepared: Prepared, written_at: datetime) -> None:
    """Insert the new subjects, each with a new Person, and update the known ones; the new ids are set on
    the plan's records."""
    fresh = prepared.rows.new_subjects
    person_ids = ids_reserve(Person, len(fresh))
    rows_insert(Person, ("id", "created_at"), [(pk, written_at) for pk in person_ids])
    subject_ids = ids_reserve(Subject, len(fresh))
    for new, row, person_id, subject_id in zip(fresh, prepared.new_subject_rows, person_ids, subject_ids, strict=True):
        new.values["person_id"], new.values["id"] = person_id, subject_id
        row[_SUBJECT_ID], row[_SUBJECT_PERSON] = subject_id, person_id
    rows_insert(Subject, SUBJECT_COLUMNS, prepared.new_subject_rows, prepared=True)
    for columns, rows in prepared.subject_updates.items():
        rows_update(Subject, columns, rows, prepared=True)


def events_write(prepared: Prepared, notify: set[str]) -> None:
    """Insert the events in arrival order, marking those that produce messages (and the stored ones that
    do now: an early event held until this batch explained it). When some of the new events notify, each
    new event's id is set in its values (as ``id``), for ``events_built``."""
    events = prepared.rows.events
    for (subject, values), row in zip(events, prepared.event_rows, strict=True):
        row[_EVENT_SUBJECT] = values["subject_id"] = subject.values["id"]
        row[_EVENT_NOTIFIED] = values["notified"] = values["event_id"] in notify
    if any(values["event_id"] in notify for _, values in events):
        for (_, values), pk in zip(events, _events_insert_with_ids(prepared.event_rows), strict=True):
            values["id"] = pk
    else:
        rows_insert(CustodyEvent, EVENT_COLUMNS, prepared.event_rows, prepared=True)
    stored = notify.difference(values["event_id"] for _, values in events)
    if stored:
        agency_id = events[0][1]["agency_id"]
        CustodyEvent.objects.filter(agency_id=agency_id, event_id__in=sorted(stored)).update(notified=True)


def _events_insert_with_ids(rows: list[list[Any]]) -> list[int]:
    """Insert prepared event rows and return their ids: one event (an agency pushing them one at a time)
    by ``RETURNING``, more with ids reserved first, in arrival order either way."""
    if len(rows) == 1:
        with connection.cursor() as cursor:
            cursor.execute(_event_insert_returning_sql(connection.vendor), rows[0])
            return [int(cursor.fetchone()[0])]
    ids = ids_reserve(CustodyEvent, len(rows))
    rows_insert(CustodyEvent, ("id", *EVENT_COLUMNS), [[pk, *row] for pk, row in zip(ids, rows, strict=True)],
                prepared=True)
    return ids


@lru_cache(maxsize=4)
def _event_insert_returning_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    fields = {f.attname: f for f in CustodyEvent._meta.concrete_fields}
    names = ", ".join(quote(fields[c].column) for c in EVENT_COLUMNS)
    marks = ", ".join(["%s"] * len(EVENT_COLUMNS))
    return (f"INSERT INTO {quote(CustodyEvent._meta.db_table)} ({names}) VALUES ({marks}) "  # noqa: S608
            f"RETURNING {quote(fields['id'].column)}")
