"""Two ways into the report's events that the quarter fixture does not take: a subject's events at the same
instant, and one person reported by two agencies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from tests.factories import subscribe
from tests.reports.fixtures import current_quarter, ingest, raw
from tests.reports.test_report import expected
from vinex.custody import statemachine
from vinex.custody.models import Agency, CustodyEvent, Subject
from vinex.locator.selectors import subject_ref_make
from vinex.privacy.redress import ReportIn, data_report_create
from vinex.reports import facts
from vinex.reports.compute import report_compute
from vinex.reports.history import TYPES

# Both readers (column by column on a second connection, and Django's cursor) need committed rows.
pytestmark = pytest.mark.django_db(transaction=True)

# Of each pair of events at one instant, the one whose event_id sorts first (as text) arrives second.
RELEASED_LAST = 12  # "u<i>-10" BOOKED and "u<i>-9" RELEASED: by event_id the release comes last
BOOKED_LAST = 13  # "d<i>-b" BOOKED and "d<i>-a" RELEASED: by event_id the booking comes last


def tied_histories(agency: Agency) -> dict[str, str]:
    """Subjects with a booking and a release at one instant, each pair sent in two batches in the order
    opposite to their event ids (so arrival order, database ids and numeric order all disagree with the
    state machine's order); returns the status each subject must end in."""
    at = current_quarter().start + timedelta(hours=1)
    statuses = {}
    for i in range(RELEASED_LAST):
        subject = f"U{i}"
        assert ingest(agency, [raw(f"u{i}-9", "RELEASED", subject, at, reason="bond")], at) == ["accepted"]
        assert ingest(agency, [raw(f"u{i}-10", "BOOKED", subject, at)], at + timedelta(minutes=1)) == ["accepted"]
        statuses[subject] = "RELEASED"
    for i in range(BOOKED_LAST):
        subject = f"D{i}"
        assert ingest(agency, [raw(f"d{i}-b", "BOOKED", subject, at)], at) == ["accepted"]
        assert ingest(agency, [raw(f"d{i}-a", "RELEASED", subject, at, reason="bond")],
                      at + timedelta(minutes=1)) == ["accepted"]
        statuses[subject] = "IN_CUSTODY"
    return statuses


@pytest.fixture(params=["columnar", "cursor"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The report read column by column, then again through Django's cursor."""
    if request.param == "cursor":
        monkeypatch.setattr(facts, "_columnar_uri", lambda: None)
    return str(request.param)


def test_events_at_one_instant_reach_the_report_in_the_state_machines_order(agency: Agency, reader: str) -> None:
    statuses = tied_histories(agency)
    # What ingest made of each history: the fixture tests what it says it does.
    stored = dict(Subject.objects.filter(agency=agency).values_list("agency_subject_id", "status"))
    assert stored == statuses
    assert facts.columnar() == (reader == "columnar")

    events = facts.events()
    stored_events = {e.pk: e for e in CustodyEvent.objects.select_related("subject", "facility")}
    read: dict[str, list[str]] = {}
    for row in events.iter_rows(named=True):
        event = stored_events[row["id"]]
        assert TYPES[row["type"]] == event.type
        read.setdefault(event.subject.agency_subject_id, []).append(event.event_id)
    for subject, event_ids in read.items():
        facts_of = [statemachine.EventFacts(e.event_id, e.type, e.occurred_at, e.pk, e.facility.code)
                    for e in stored_events.values() if e.subject.agency_subject_id == subject]
        assert event_ids == [f.event_id for f in statemachine.order(facts_of)], subject

    people = report_compute(quarter=current_quarter()).tables["people_by_agency_status"]
    assert people["rows"] == ["pine"]
    assert people["values"] == expected(people, {("pine", "RELEASED"): RELEASED_LAST,
                                                 ("pine", "IN_CUSTODY"): BOOKED_LAST})
    assert people["total"] == RELEASED_LAST + BOOKED_LAST


LINKED = 12


def transferred_people(pine: Agency, state: Agency) -> list[Any]:
    """``LINKED`` people booked at Pine, followed there, released to the state and booked by it under the
    state's own subject ids: the shared A-number links the two records into one person. Returns the people."""
    start = current_quarter().start
    people = []
    for i in range(LINKED):
        identity = {"identifiers": {"a_number": f"20000{i:04d}"}, "country_of_birth": "MX"}
        booked = raw(f"pb{i}", "BOOKED", f"P{i}", start + timedelta(hours=1))
        booked["subject"].update(identity)
        assert ingest(pine, [booked], start + timedelta(hours=1)) == ["accepted"]
        subscribe(pine, f"P{i}", email=f"v{i}@example.org")
        released = raw(f"pr{i}", "RELEASED", f"P{i}", start + timedelta(hours=2),
                       reason="transferred_to_other_jurisdiction")
        assert ingest(pine, [released], start + timedelta(hours=2)) == ["accepted"]
        taken = raw(f"sb{i}", "BOOKED", f"T{i}", start + timedelta(hours=3), facility="north")
        taken["subject"].update(identity)
        assert ingest(state, [taken], start + timedelta(hours=3)) == ["accepted"]
        pine_subject = Subject.objects.get(agency=pine, agency_subject_id=f"P{i}")
        state_subject = Subject.objects.get(agency=state, agency_subject_id=f"T{i}")
        assert pine_subject.person_id == state_subject.person_id, "one person, two agencies' records"
        people.append(pine_subject.person)
    return people


def test_a_person_reported_by_two_agencies_counts_once_in_each(agency: Agency, other_agency: Agency,
                                                               reader: str) -> None:
    people = transferred_people(agency, other_agency)
    for i, person in enumerate(people):
        data_report_create(report=ReportIn(subject_ref=subject_ref_make(person_id=person.pk), topic="status",
                                           details=f"not released ({i})"), client_address="203.0.113.7")
    assert facts.columnar() == (reader == "columnar") and not connection.in_atomic_block

    tables = report_compute(quarter=current_quarter()).tables
    # Each agency counts its own record of the person: Pine released them, the state holds them; nobody is
    # counted twice by one agency, nor under an agency by what the other reported.
    people_table = tables["people_by_agency_status"]
    assert people_table["rows"] == ["pine", "state"]
    assert people_table["values"] == expected(people_table, {("pine", "RELEASED"): LINKED,
                                                             ("state", "IN_CUSTODY"): LINKED})
    assert people_table["row_totals"] == [LINKED, LINKED]
    events = tables["events_by_agency_type"]
    assert events["values"] == expected(events, {("pine", "BOOKED"): LINKED, ("pine", "RELEASED"): LINKED,
                                                 ("state", "BOOKED"): LINKED})
    # One subscription per person, though two agencies hold them.
    registrations = tables["registrations_by_channel_tier"]
    assert registrations["total"] == LINKED
    # A report about the person concerns both agencies holding them, once each.
    privacy = tables["privacy_by_agency"]
    assert privacy["values"] == expected(privacy, {("pine", "data_reports"): LINKED,
                                                   ("state", "data_reports"): LINKED})
