"""Abuse checks on registrations (issue 15, item 9): a search result used by another client, one mailbox
or phone behind several contacts, and caps on one-time codes (SMS pumping)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.actors import ACTOR
from tests.locator.people import book
from vinex.custody.models import Agency, Subject
from vinex.locator.selectors import locator_client_ref, subject_ref_make
from vinex.notify.models import Notification
from vinex.registrations.models import ContactVerification, Registration, RegistrationStatus
from vinex.registrations.services import (
    Check,
    ContactIn,
    Resend,
    registration_create,
    verification_check,
    verification_resend,
)

pytestmark = pytest.mark.django_db
SEARCHER = "198.51.100.20"


def register(subject: Subject, *contacts: ContactIn, searched_from: str = SEARCHER,
             registered_from: str = SEARCHER) -> Registration:
    ref = subject_ref_make(person_id=subject.person_id, subject_id=subject.pk,
                           client_ref=locator_client_ref(searched_from))
    contacts = contacts or (ContactIn("email", "ana@example.org"),)
    pin = "2580" if any(c.channel == "voice" for c in contacts) else ""
    return registration_create(actor=ACTOR, subject_ref=ref, language="en", arrival="web", contacts=contacts,
                               client_address=registered_from, pin=pin)


def sent_code(verification: ContactVerification) -> str:
    """The code in the last message to the contact (written as 6 digits, or spoken one by one)."""
    body = Notification.objects.filter(contact=verification.contact, template="verification_code").latest("id").body
    found = re.search(r"\b(\d{6}|\d(?:, \d){5})\b", body)
    assert found, body
    return found[1].replace(", ", "")


def verify(registration: Registration) -> Check:
    outcome = Check.VERIFIED
    for verification in registration.verifications.all():
        outcome = verification_check(actor=ACTOR, verification=verification, code=sent_code(verification)).outcome
    return outcome


def test_a_search_from_one_client_and_a_registration_from_another_is_held(agency: Agency) -> None:
    subject = book(agency, "S-1")
    same = register(subject, ContactIn("email", "ana@example.org"))
    moved = register(subject, ContactIn("email", "bea@example.org"), registered_from="203.0.113.5")
    assert verify(same) == Check.ACTIVE
    assert verify(moved) == Check.HELD
    moved.refresh_from_db()
    assert moved.status == RegistrationStatus.HELD and "another" in moved.decision_reason


@pytest.mark.parametrize(("first", "second"), [
    (ContactIn("email", "alice+1@example.org"), ContactIn("email", "alice+2@example.org")),
    (ContactIn("sms", "+1 202 555 0143"), ContactIn("voice", "+1 202 555 0143")),
])
def test_one_mailbox_or_phone_counts_as_one_contact(agency: Agency, settings: Any, first: ContactIn,
                                                    second: ContactIn) -> None:
    settings.VINEX_ABUSE_MAX_PEOPLE_PER_CONTACT = 1
    one, other = book(agency, "S-1"), book(agency, "S-2", a_number="A987654321")
    assert verify(register(one, first)) == Check.ACTIVE
    assert verify(register(other, second)) == Check.HELD  # the same person already follows someone else


def test_codes_to_one_destination_are_capped(agency: Agency, settings: Any) -> None:
    settings.VINEX_CODE_DESTINATION_RATE = "2/day"
    subject = book(agency, "S-1")
    for n in range(3):  # alice+n: the same mailbox however it is spelled
        register(subject, ContactIn("email", f"alice+{n}@example.org"))
    assert Notification.objects.filter(template="verification_code").count() == 2


def test_codes_to_one_country_are_capped(agency: Agency, settings: Any) -> None:
    settings.VINEX_CODE_COUNTRY_RATE = "2/hour"
    subject = book(agency, "S-1")
    for number in ("+44 7911 123456", "+44 7911 123457", "+44 7911 123458"):
        register(subject, ContactIn("sms", number))
    register(subject, ContactIn("sms", "+1 202 555 0143"))  # another country has its own share
    sent = Notification.objects.filter(template="verification_code")
    assert sent.count() == 3


def test_a_resend_past_the_cap_says_so_and_sends_nothing(agency: Agency, settings: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    settings.VINEX_CODE_DESTINATION_RATE = "1/day"
    verification = register(book(agency, "S-1")).verifications.get()
    later = timezone.now() + timedelta(minutes=5)
    assert verification_resend(actor=ACTOR, verification=verification, now=later).outcome == Resend.LIMIT_REACHED
    assert Notification.objects.filter(template="verification_code").count() == 1
