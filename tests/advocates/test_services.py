"""Registering a victim on her behalf, with her consent, and escalating when an urgent message misses her."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.actors import ACTOR
from tests.advocates.helpers import advocate, organisation, register_victim
from tests.locator.people import book, ingest
from vinex.advocates.models import Consent, ConsentMethod, Escalation
from vinex.advocates.services import advocate_register, escalations_raise
from vinex.custody.models import Agency, Subject
from vinex.locator.selectors import subject_ref_make
from vinex.notify import lifecycle
from vinex.notify.models import Notification, NotificationStatus
from vinex.notify.voice import notification_confirm
from vinex.registrations.models import Arrival, RegistrationShare, RegistrationStatus
from vinex.registrations.services import ContactIn, RegistrationInvalid

pytestmark = pytest.mark.django_db


def released(agency: Agency, subject: Subject, event_id: str = "rel-1", type_: str = "RELEASED") -> None:
    ingest(agency, {
        "event_id": event_id, "type": type_, "reason": "bond", "facility_code": "main",
        "occurred_at": timezone.now().isoformat(),
        "subject": {"agency_subject_id": subject.agency_subject_id, "first_name": "María José",
                    "last_name": "García Núñez"},
    })


def event_messages() -> list[Notification]:
    return list(Notification.objects.filter(event__isnull=False).order_by("id"))


def test_a_registration_on_her_behalf_records_her_consent_and_who_serves_her(agency: Agency) -> None:
    org = organisation("harbor", agency)
    user = advocate("ada", org)
    subject = book(agency, "S-1")
    registration = register_victim(user, org, subject, confirm=False)

    consent = Consent.objects.get(registration=registration)
    assert (consent.method, consent.text_version, consent.recorded_by, consent.organisation) == (
        ConsentMethod.IN_PERSON, "2026-12", user, org)
    assert consent.given_at <= timezone.now()
    assert registration.channel == Arrival.ADVOCATE
    assert registration.status == RegistrationStatus.PENDING
    share = RegistrationShare.objects.get(registration=registration)
    assert (share.organisation_code, share.reason) == ("harbor", "registered")
    # The code goes to the victim herself, not to the advocate.
    [code] = Notification.objects.filter(template="verification_code")
    assert code.contact.value == "vic@example.org"


def test_her_unverified_contact_receives_nothing_about_the_person(agency: Agency) -> None:
    org = organisation("harbor", agency)
    subject = book(agency, "S-1")
    registration = register_victim(advocate("ada", org), org, subject, confirm=False)
    released(agency, subject)
    assert event_messages() == []
    assert registration.status == RegistrationStatus.PENDING


def test_consent_and_the_agencies_served_are_checked(agency: Agency, other_agency: Agency) -> None:
    org = organisation("harbor", other_agency)  # serves the state prisons only
    user = advocate("ada", org)
    elsewhere = book(agency, "S-1")
    with pytest.raises(RegistrationInvalid) as invalid:
        advocate_register(user=user, organisation=org, subject_ref=subject_ref_make(person_id=elsewhere.person_id),
                          language="en", contacts=[ContactIn("email", "vic@example.org")], consent_method="nodded")
    assert {e.type for e in invalid.value.errors} == {"invalid_consent_method", "not_served"}
    assert not Consent.objects.exists() and not RegistrationShare.objects.exists()


def _registered_with_call(agency: Agency) -> tuple[Any, Subject]:
    org = organisation("harbor", agency)
    subject = book(agency, "S-1")
    registration = register_victim(advocate("ada", org), org, subject, ContactIn("email", "vic@example.org"),
                                   ContactIn("voice", "+1 202 555 0143"), pin="2580")
    assert registration.status == RegistrationStatus.ACTIVE
    return registration, subject


def _email_sent_call_unanswered() -> Notification:
    now = timezone.now()
    email = Notification.objects.get(event__isnull=False, channel="email")
    call = Notification.objects.get(event__isnull=False, channel="voice")
    for row in (email, call):
        lifecycle.notification_move(notification_id=row.pk, to=NotificationStatus.SENDING, now=now)
        lifecycle.notification_move(notification_id=row.pk, to=NotificationStatus.SENT, now=now, sent_at=now)
    return call


def test_an_unconfirmed_call_about_a_release_alerts_her_advocates_once(agency: Agency, settings: Any) -> None:
    settings.VINEX_ESCALATION_MINUTES = 30
    registration, subject = _registered_with_call(agency)
    released(agency, subject)
    _email_sent_call_unanswered()
    now = timezone.now()

    assert escalations_raise(now=now + timedelta(minutes=29), actor=ACTOR) == []
    [escalation] = escalations_raise(now=now + timedelta(minutes=31), actor=ACTOR)
    assert (escalation.registration, escalation.channels, escalation.notified) == (registration, "voice", 1)
    [alert] = Notification.objects.filter(template="advocate_escalation")
    assert alert.contact.value == "ada@advocates.example.org" and alert.channel == "email"
    assert f"/staff/advocate/cases/{registration.public_id}/" in alert.body
    assert "vic@example.org" not in alert.body and "García" not in alert.body

    assert escalations_raise(now=now + timedelta(minutes=45), actor=ACTOR) == []
    assert Escalation.objects.count() == 1
    assert Notification.objects.filter(template="advocate_escalation").count() == 1


def test_no_alert_when_the_call_was_confirmed_or_the_event_is_not_urgent(agency: Agency, settings: Any) -> None:
    settings.VINEX_ESCALATION_MINUTES = 30
    _registration, subject = _registered_with_call(agency)
    released(agency, subject)
    notification_confirm(notification=_email_sent_call_unanswered())
    ingest(agency, {"event_id": "rebooked", "type": "BOOKED", "facility_code": "main",
                    "occurred_at": timezone.now().isoformat(),
                    "subject": {"agency_subject_id": "S-1", "first_name": "María José", "last_name": "García Núñez"}})
    assert Notification.objects.filter(event__type="BOOKED", event__event_id="rebooked").exists()
    assert escalations_raise(now=timezone.now() + timedelta(hours=2), actor=ACTOR) == []
    assert not Escalation.objects.exists()


def test_victims_no_organisation_serves_are_not_escalated(agency: Agency, settings: Any) -> None:
    from tests.registrations.test_services import start

    registration = start(agency)
    assert registration.shares.count() == 0
    assert escalations_raise(now=timezone.now() + timedelta(hours=2), actor=ACTOR) == []
