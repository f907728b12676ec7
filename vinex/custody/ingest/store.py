"""The reads and writes of event ingestion: the only SQL of ingest.

Rows go through ``vinex.core.bulk`` (one prepared statement for many rows), whose column lists here come
from the models' metadata, so a column added to ``Subject`` or ``CustodyEvent`` is read and written
without a list to update; ``bulk`` refuses a column whose field converts its values itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from django.db import connection, models

from vinex.core.bulk import ids_reserve, rows_insert, rows_prepare, rows_select, rows_update
from vinex.custody import statemachine as sm
from vinex.custody.ingest.plan import Rows
from vinex.custody.models import CustodyEvent, Facility, Person, Subject

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
# A row's values in column order, picked in C: a plan that misses a column fails loudly (KeyError) rather
# than writing a default nobody chose.
_subject_row = itemgetter(*SUBJECT_COLUMNS)
_event_row = itemgetter(*EVENT_COLUMNS)
_SUBJECT_ID, _SUBJECT_PERSON = SUBJECT_COLUMNS.index("id"), SUBJECT_COLUMNS.index("person_id")
_EVENT_SUBJECT, _EVENT_NOTIFIED = EVENT_COLUMNS.index("subject_id"), EVENT_COLUMNS.index("notified")
_HISTORY_COLUMNS = ("subject_id", "event_id", "type", "occurred_at", "id", "facility__code", "to_facility__code",
                    "reason", "scheduled_for", "corrects_event_id", "hearing_id", "notified")


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


# --- Reads ------------------------------------------------------------------------------------------


def facilities_of(agency_id: int) -> dict[str, Facility]:
    return {f.code: f for f in Facility.objects.filter(agency_id=agency_id)}


def event_ids_known(agency_id: int, event_ids: Sequence[str]) -> set[str]:
    """Which of these ids the agency's recorded events already carry."""
    rows = rows_select(CustodyEvent, ("event_id",), among=("event_id", event_ids), where=[("agency_id", agency_id)])
    return {row[0] for row in rows}


def subject_rows(agency_id: int, keys: Sequence[str]) -> list[tuple[Any, ...]]:
    """The agency's stored subjects with these ids, as rows of ``SUBJECT_COLUMNS``."""
    return rows_select(Subject, SUBJECT_COLUMNS, among=("agency_subject_id", keys), where=[("agency_id", agency_id)])


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


# --- Writes -----------------------------------------------------------------------------------------


_INGEST_LOCK_SPACE = 7301  # PostgreSQL advisory-lock namespace of event ingestion


def agency_lock(agency_id: int) -> None:
    """On PostgreSQL, one ingest at a time per agency until commit; SQLite's IMMEDIATE transactions already
    serialise writers."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_INGEST_LOCK_SPACE, agency_id])


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
    do now: an early event held until this batch explained it)."""
    for (subject, values), row in zip(prepared.rows.events, prepared.event_rows, strict=True):
        row[_EVENT_SUBJECT] = subject.values["id"]
        row[_EVENT_NOTIFIED] = values["event_id"] in notify
    rows_insert(CustodyEvent, EVENT_COLUMNS, prepared.event_rows, prepared=True)
    stored = notify.difference(values["event_id"] for _, values in prepared.rows.events)
    if stored:
        agency_id = prepared.rows.events[0][1]["agency_id"]
        CustodyEvent.objects.filter(agency_id=agency_id, event_id__in=sorted(stored)).update(notified=True)
