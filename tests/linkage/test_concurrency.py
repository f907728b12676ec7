"""Two agencies' batches linking the same people at the same moment, each on its own PostgreSQL
connection: neither may wait for the other in a circle (a deadlock would fail one agency's batch)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.actors import ACTOR
from tests.linkage.test_services import booked_at
from tests.support.threads import on_own_connections
from vinex.custody.ingest import IncomingEvent, event_ingest, payload_hash
from vinex.custody.models import Agency, Subject
from vinex.custody.schemas import EventIn
from vinex.linkage.models import Decision, LinkDecision
from vinex.linkage.services import SubjectLinker, pending_link
from vinex.notify.selectors import person_ids_followed

PAIRS = 8


def _hearing(agency_subject_id: str, number: int, a_number: str | None) -> dict[str, object]:
    identifiers = {"identifiers": {"a_number": a_number}} if a_number else {}
    return {"event_id": f"{agency_subject_id}-hearing", "type": "HEARING_SCHEDULED", "hearing_id": f"H-{number}",
            "court_name": "Immigration Court", "occurred_at": (timezone.now() - timedelta(minutes=30)).isoformat(),
            "scheduled_for": (timezone.now() + timedelta(days=9)).isoformat(), "facility_code": "main",
            "subject": {"agency_subject_id": agency_subject_id, "first_name": f"Person{number}", "last_name": "Ortiz",
                        "date_of_birth": "1980-05-17", "country_of_birth": "MX", **identifiers}}


def _a_number(side: str, number: int) -> str:
    return f"{1 if side == 'county' else 2}{number:08d}"


@pytest.mark.django_db(transaction=True)
def test_two_agencies_linking_the_same_people_at_once_both_succeed(agency: Agency, detention: Agency) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite lets one transaction write at a time: nothing to deadlock")
    # People created in this order make each agency's links move the other agency's rows: the county's
    # Y-n (older) absorbs detention's U-n, and detention's V-n (older) absorbs the county's X-n.
    for n in range(PAIRS):
        booked_at(agency, f"Y-{n}", first_name=f"Person{n}", last_name="Ortiz", date_of_birth="1980-05-17")
        booked_at(detention, f"V-{n}", first_name=f"Person{n}", last_name="Ortiz", date_of_birth="1980-05-17")
    for n in range(PAIRS):
        booked_at(agency, f"X-{n}", first_name=f"Person{n}", last_name="Ortiz", date_of_birth="1980-05-17",
                  identifiers={"a_number": _a_number("county", n)})
        booked_at(detention, f"U-{n}", first_name=f"Person{n}", last_name="Ortiz", date_of_birth="1980-05-17",
                  identifiers={"a_number": _a_number("detention", n)})
    pending_link(now=timezone.now())
    LinkDecision.objects.all().delete()  # names alike on purpose; what counts here is the A-number links
    # Each batch writes its own X/U rows and gives Y (or V) the A-number of the other agency's record.
    county = [_hearing(f"Y-{n}", n, _a_number("detention", n)) for n in range(PAIRS)] + [
        _hearing(f"X-{n}", PAIRS + n, None) for n in range(PAIRS)]
    custody = [_hearing(f"V-{n}", 2 * PAIRS + n, _a_number("county", n)) for n in range(PAIRS)] + [
        _hearing(f"U-{n}", 3 * PAIRS + n, None) for n in range(PAIRS)]
    # Both transactions have written their subjects before either links: the moment a deadlock needs.
    both_written = threading.Barrier(2, timeout=30)
    sends = ((agency, county), (detention, custody))

    def send(position: int) -> None:
        def link(subject_ids: list[int]) -> dict[int, int]:
            both_written.wait()
            return SubjectLinker().link(subject_ids)

        target, raws = sends[position]
        incoming = [IncomingEvent(EventIn.model_validate(r), payload_hash(r)) for r in raws]
        outcomes = event_ingest(agency=target, events=incoming, actor=ACTOR, link=link,
                                followed=lambda ids: person_ids_followed(person_ids=ids))
        assert {o.status for o in outcomes} == {"accepted"}, [o.errors for o in outcomes]

    on_own_connections(send, len(sends))
    # What one batch left to avoid waiting, the job links seconds later: every pair ends up one person.
    pending_link(now=timezone.now())
    person = dict(Subject.objects.values_list("agency_subject_id", "person_id"))
    assert all(person[f"Y-{n}"] == person[f"U-{n}"] and person[f"V-{n}"] == person[f"X-{n}"] for n in range(PAIRS))
    assert LinkDecision.objects.filter(decision=Decision.LINKED, rule="same_a_number").count() == 2 * PAIRS
