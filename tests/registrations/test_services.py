from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.actors import ACTOR
from tests.locator.people import book
from vinex.custody.models import Agency
from vinex.locator.selectors import subject_ref_make
from vinex.notify.models import Notification
from vinex.registrations.models import ContactVerification, Registration
from vinex.registrations.services import (
    Check,
    ContactIn,
    RegistrationInvalid,
    Resend,
    registration_create,
    verification_check,
    verification_resend,
)

pytestmark = pytest.mark.django_db


def start(agency: Agency, *contacts: ContactIn) -> Registration:
    subject = book(agency, "S-1")
    return registration_create(actor=ACTOR, subject_ref=subject_ref_make(person_id=subject.person_id), language="es",
                               contacts=contacts or [ContactIn("email", "ana@example.org")], arrival="web",
                               client_address="198.51.100.20")


def sent_code(verification: ContactVerification) -> str:
    body = Notification.objects.filter(contact=verification.contact, template="verification_code").latest("id").body
    found = re.search(r"\b(\d{6})\b", body)
    assert found
    return found[1]


def test_each_contact_gets_its_own_code_in_the_registrants_language(agency: Agency) -> None:
    registration = start(agency, ContactIn("email", "ana@example.org"), ContactIn("sms", "+1 202 555 0143"))
    codes = [sent_code(v) for v in registration.verifications.all()]
    assert len(codes) == 2
    bodies = Notification.objects.filter(template="verification_code").values_list("body", flat=True)
    assert all("Vence en 10 minutos" in body for body in bodies)
    assert all(code not in v.code_hash for code, v in zip(codes, registration.verifications.all(), strict=True))


def test_the_registration_records_how_it_arrived_but_not_the_address(agency: Agency) -> None:
    registration = start(agency)
    assert registration.channel == "web" and registration.created_at is not None
    assert len(registration.ip_hash) == 64 and "198.51" not in registration.ip_hash


def test_a_code_expires_after_ten_minutes(agency: Agency) -> None:
    verification = start(agency).verifications.get()
    later = timezone.now() + timedelta(minutes=10, seconds=1)
    assert verification_check(actor=ACTOR,
                              verification=verification, code=sent_code(verification), now=later).outcome == (
        Check.EXPIRED)
    assert verification_check(actor=ACTOR,
                              verification=verification, code=sent_code(verification)).outcome == Check.ACTIVE


def test_a_new_code_replaces_the_old_one_and_sends_are_limited(agency: Agency, settings: Any) -> None:
    settings.VINEX_CODE_MAX_SENDS = 3
    verification = start(agency).verifications.get()
    first = sent_code(verification)
    soon = timezone.now() + timedelta(seconds=30)
    assert verification_resend(actor=ACTOR, verification=verification, now=soon).outcome == Resend.TOO_SOON
    results = [verification_resend(actor=ACTOR,
                                   verification=verification, now=timezone.now() + timedelta(minutes=m)).outcome
               for m in (2, 4, 6)]
    assert results == [Resend.SENT, Resend.SENT, Resend.LIMIT_REACHED]
    latest = sent_code(verification)
    if latest != first:
        assert verification_check(actor=ACTOR, verification=verification, code=first).outcome == Check.WRONG
    assert verification_check(actor=ACTOR, verification=verification, code=latest).outcome == Check.ACTIVE


def test_nothing_is_stored_when_any_field_is_wrong(agency: Agency) -> None:
    subject = book(agency, "S-1")
    with pytest.raises(RegistrationInvalid) as invalid:
        registration_create(actor=ACTOR, subject_ref=subject_ref_make(person_id=subject.person_id), language="de",
                            contacts=[ContactIn("email", "ok@example.org"), ContactIn("sms", "call me")],
                            relationship="boss", case_number="x" * 65, arrival="api", client_address="192.0.2.1")
    assert {e.loc for e in invalid.value.errors} == {("language",), ("contacts", 1, "value"), ("relationship",),
                                                     ("case_number",)}
    assert not Registration.objects.exists() and not Notification.objects.exists()


def test_an_expired_subject_ref_is_refused(agency: Agency, settings: Any) -> None:
    subject = book(agency, "S-1")
    ref = subject_ref_make(person_id=subject.person_id)
    settings.VINEX_SUBJECT_REF_MAX_AGE = -1
    with pytest.raises(RegistrationInvalid) as invalid:
        registration_create(actor=ACTOR, subject_ref=ref, language="en", contacts=[ContactIn("email", "a@example.org")],
                            arrival="api", client_address="192.0.2.1")
    assert invalid.value.errors[0].type == "expired_subject_ref"
