"""Custody's ingest service on its own: it records events and knows nobody who listens."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from tests.actors import ACTOR
from tests.conftest import event
from tests.factories import subscribe
from vinex.custody.ingest import IncomingEvent, Recorded, event_ingest, payload_hash
from vinex.custody.models import Agency, CustodyEvent, Subject, SubjectContact
from vinex.custody.schemas import EventIn
from vinex.notify.models import Notification

pytestmark = pytest.mark.django_db


def incoming(*raws: dict[str, Any]) -> list[IncomingEvent]:
    return [IncomingEvent(EventIn.model_validate(r), payload_hash(r)) for r in raws]


def test_without_a_listener_events_are_recorded_and_nobody_is_told(agency: Agency) -> None:
    event_ingest(actor=ACTOR, agency=agency, events=incoming(event("b1", "BOOKED")))
    subscribe(agency, email="v@example.org")

    outcomes = event_ingest(actor=ACTOR, agency=agency, events=incoming(event("r1", "RELEASED", minutes=10)))

    assert [o.status for o in outcomes] == ["accepted"]
    assert Subject.objects.get(agency_subject_id="S-1").status == "RELEASED"
    assert CustodyEvent.objects.get(event_id="r1").notified is False
    assert Notification.objects.count() == 0


def test_the_listener_is_asked_about_followed_people_and_handed_what_was_written(agency: Agency) -> None:
    event_ingest(actor=ACTOR,
                 agency=agency, events=incoming(event("b1", "BOOKED"), event("b2", "BOOKED", subject="S-2")))
    people = dict(Subject.objects.values_list("agency_subject_id", "person_id"))
    released = event("r1", "RELEASED", minutes=10)
    released["subject"]["contacts"] = [{"kind": "email", "value": "robin@example.org"}]
    asked: list[set[int]] = []
    handed: list[Recorded] = []

    def followed(person_ids: set[int]) -> set[int]:
        asked.append(person_ids)
        return {people["S-1"]}

    event_ingest(actor=ACTOR,
                 agency=agency, events=incoming(released, event("r2", "RELEASED", subject="S-2", minutes=10)),
                 followed=followed, recorded=handed.append)

    assert asked == [{people["S-1"], people["S-2"]}]
    [recorded] = handed
    assert [e.event_id for e in recorded.events_to_notify] == ["r1"]
    s1 = Subject.objects.get(agency_subject_id="S-1")
    assert recorded.contacts_by_subject == {s1.pk: [("email", "robin@example.org")]}
    assert dict(CustodyEvent.objects.filter(event_id__in=["r1", "r2"]).values_list("event_id", "notified")) == {
        "r1": True, "r2": False}
    assert SubjectContact.objects.count() == 0  # recording them is the listener's call


def story(subject: str) -> list[IncomingEvent]:
    """Booked, released, a late transfer, a copy of the booking and an early escape (held pending)."""
    return incoming(*(event(f"{subject}-{e['event_id']}", e["type"], subject=subject, minutes=m, **extra)
                      for e, m, extra in [
                          (event("b1", "BOOKED"), 0, {}), (event("r1", "RELEASED"), 20, {}),
                          (event("t1", "TRANSFERRED"), 10, {"to_facility_code": "annex"}),
                          (event("b1", "BOOKED"), 0, {}), (event("e1", "ESCAPED"), 30, {})]))


def test_a_batch_inside_an_open_transaction_is_worked_out_the_same_way(agency: Agency) -> None:
    outside = event_ingest(actor=ACTOR, agency=agency, events=story("S-1"))
    with transaction.atomic():
        inside = event_ingest(actor=ACTOR, agency=agency, events=story("S-2"))

    assert [o.status for o in inside] == [o.status for o in outside] == [
        "accepted", "accepted", "accepted", "duplicate", "pending"]
    s1, s2 = (Subject.objects.get(agency_subject_id=key) for key in ("S-1", "S-2"))
    assert (s1.status, s1.facility_id, s1.last_event_at) == (s2.status, s2.facility_id, s2.last_event_at)
