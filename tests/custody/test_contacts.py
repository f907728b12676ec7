"""A registration whose contact is the followed person's own is held; the person's contacts are kept
only as blind indexes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from tests.actors import ACTOR
from tests.conftest import event
from tests.locator.people import book
from vinex.custody.contacts import is_own_contact, subject_contacts_record
from vinex.custody.models import Agency, Subject, SubjectContact
from vinex.notify.services import contact_add, registrant_create
from vinex.registrations.screening import Outcome, registration_check

pytestmark = pytest.mark.django_db


def test_a_registrant_using_the_persons_own_number_is_held(agency: Agency) -> None:
    subject = book(agency, "S-1")
    subject_contacts_record(contacts_by_subject={subject.pk: [("phone", "(202) 555-0143"),
                                                              ("email", "Robin.Q@Example.org")]})
    own_phone = contact_add(registrant=registrant_create(language="en", actor=ACTOR),
                            channel="voice", value="+1 202 555 0143", actor=ACTOR)
    own_email = contact_add(registrant=registrant_create(language="en", actor=ACTOR),
                            channel="email", value="robin.q@example.org", actor=ACTOR)
    stranger = contact_add(registrant=registrant_create(language="en", actor=ACTOR),
                           channel="sms", value="+1 202 555 0199", actor=ACTOR)

    by_phone = registration_check(person=subject.person, contacts=[own_phone], ip_hash="h", channel="web")
    by_email = registration_check(person=subject.person, contacts=[own_email], ip_hash="h", channel="hotline")
    other = registration_check(person=subject.person, contacts=[stranger], ip_hash="h", channel="web")

    assert by_phone.outcome == Outcome.HOLD and "agency holds for the person followed" in by_phone.reason
    assert by_email.outcome == Outcome.HOLD
    assert other.allowed


def test_only_indexes_are_stored_and_bad_values_are_skipped(agency: Agency) -> None:
    subject = book(agency, "S-1")

    given = subject_contacts_record(contacts_by_subject={subject.pk: [("phone", "2025550143"), ("phone", "nope"),
                                                                      ("fax", "2025550143")]})
    subject_contacts_record(contacts_by_subject={subject.pk: [("phone", "+12025550143")]})  # known already

    assert given == 2  # the number for texts and for calls
    assert SubjectContact.objects.count() == 2
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {SubjectContact._meta.db_table}")  # noqa: S608
        stored = repr(cursor.fetchall())
    assert "2025550143" not in stored and "555-0143" not in stored and "555 0143" not in stored


def test_contacts_sent_with_an_event_are_indexed_and_never_stored_in_clear(api: Client, agency: Agency) -> None:
    booked = event("b1", "BOOKED")
    booked["subject"]["contacts"] = [{"kind": "phone", "value": "202-555-0143"},
                                     {"kind": "email", "value": "robin@example.org"}]
    bad = event("b2", "BOOKED", subject="S-2")
    bad["subject"]["contacts"] = [{"kind": "fax", "value": "1"}]

    response = api.post("/api/v1/custody-events", {"events": [booked, bad]}, content_type="application/json")

    assert [r["status"] for r in response.json()["results"]] == ["accepted", "rejected"]
    assert response.json()["results"][1]["errors"][0]["loc"][:4] == ["events", 1, "subject", "contacts"]
    subject = Subject.objects.get(agency_subject_id="S-1")
    own = contact_add(registrant=registrant_create(language="en", actor=ACTOR),
                      channel="sms", value="+12025550143", actor=ACTOR)
    decision = registration_check(person=subject.person, contacts=[own], ip_hash="h", channel="web")
    assert decision.outcome == Outcome.HOLD
    assert SubjectContact.objects.filter(subject=subject).count() == 3  # texts, calls, email


def test_own_contacts_are_recognised_by_their_blind_indexes_alone(agency: Agency) -> None:
    subject = book(agency, "S-1")
    other = book(agency, "S-2")
    subject_contacts_record(contacts_by_subject={subject.pk: [("email", "robin@example.org")]})
    own = contact_add(registrant=registrant_create(language="en", actor=ACTOR),
                      channel="email", value="ROBIN@example.org", actor=ACTOR)

    assert is_own_contact(person=subject.person, value_indexes=[own.value_index])
    assert not is_own_contact(person=other.person, value_indexes=[own.value_index])
    assert not is_own_contact(person=subject.person, value_indexes=[])
