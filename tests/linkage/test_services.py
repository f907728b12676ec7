"""A victim's subscription follows the person across agencies: registered over HTTP at county A, she hears of
the booking at agency B through the real worker and a real SMTP server; wrong links are undone by a person."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.locator.people import book, ingest
from tests.portal.mail import deliver, last_code, messages_to
from tests.support.smtp import SmtpServer, body_text
from vinex.audit.models import AuditEntry
from vinex.audit.unit import Actor
from vinex.custody.models import Agency, Subject
from vinex.linkage.models import Decision, LinkDecision, ReviewItem
from vinex.linkage.services import link_undo, pending_link
from vinex.notify.models import Notification, Subscription, SubscriptionStatus
from vinex.policy.sharing import Purpose
from vinex.privacy.partner import PartnerLookup, partner_subjects_find

pytestmark = pytest.mark.django_db
EMAIL = "ana.victim@example.org"


def registered(smtp: SmtpServer, *, language: str = "es", a_number: str = "123456789") -> str:
    """A victim registers over HTTP for the person the locator finds by A-number, and confirms her email."""
    client = Client()
    found = client.get("/api/v1/locator", {"a_number": a_number, "country_of_birth": "MX"}).json()["results"]
    response = client.post("/api/v1/registrations", {"subject_ref": found[0]["subject_ref"], "language": language,
                                                     "contacts": [{"channel": "email", "value": EMAIL}]},
                           content_type="application/json")
    assert response.status_code == 202, response.content
    registration_id = response.json()["registration_id"]
    deliver()
    confirmed = client.post(f"/api/v1/registrations/{registration_id}/confirm",
                            {"contact": EMAIL, "code": last_code(smtp, EMAIL)}, content_type="application/json")
    assert confirmed.json()["status"] == "active", confirmed.content
    deliver()
    return str(registration_id)


def handed_over(agency: Agency, subject: Subject, hours_ago: int = 3) -> None:
    ingest(agency, {
        "event_id": f"{subject.agency_subject_id}-out", "type": "RELEASED",
        "reason": "transferred_to_other_jurisdiction",
        "occurred_at": (timezone.now() - timedelta(hours=hours_ago)).isoformat(), "facility_code": "main",
        "subject": {"agency_subject_id": subject.agency_subject_id, "first_name": subject.first_name,
                    "last_name": subject.last_name},
    })


def booked_at(agency: Agency, subject_id: str, *, hours_ago: int = 1, event_id: str | None = None,
              **subject: Any) -> None:
    ingest(agency, {
        "event_id": event_id or f"{subject_id}-in", "type": "BOOKED",
        "occurred_at": (timezone.now() - timedelta(hours=hours_ago)).isoformat(), "facility_code": "main",
        "subject": {"agency_subject_id": subject_id, "country_of_birth": "MX", **subject},
    })


def mail(smtp: SmtpServer) -> list[str]:
    return [body_text(m) for m in messages_to(smtp, EMAIL)]


def test_the_victim_hears_of_the_booking_at_the_other_agency_in_her_language(
        agency: Agency, detention: Agency, smtp_settings: SmtpServer) -> None:
    subject = book(agency, "S-1")
    registered(smtp_settings)
    handed_over(agency, subject)
    deliver()
    assert "bajo la custodia de otra agencia" in mail(smtp_settings)[-1]

    booked_at(detention, "D-77", first_name="Maria Jose", last_name="Garcia", date_of_birth="1980-05-17",
              identifiers={"a_number": "A 123 456 789"})
    deliver()
    booking = mail(smtp_settings)[-1]
    assert "ingresó en South Texas Detention Center (South Detention Center Authority)" in booking
    assert Subject.objects.get(agency=detention).person_id == subject.person_id
    decision = LinkDecision.objects.get()
    assert (decision.decision, decision.rule, decision.decided_by) == (
        Decision.LINKED, "same_a_number", "system:linkage")
    assert Subscription.objects.filter(person_id=subject.person_id, status=SubscriptionStatus.ACTIVE).count() == 1


def test_same_name_and_birthday_with_different_a_numbers_link_nobody_and_send_nothing(
        agency: Agency, detention: Agency, smtp_settings: SmtpServer) -> None:
    subject = book(agency, "S-1")
    registered(smtp_settings)
    handed_over(agency, subject)
    deliver()
    before = len(mail(smtp_settings))
    booked_at(detention, "D-78", first_name="María José", last_name="García Núñez", date_of_birth="1980-05-17",
              identifiers={"a_number": "987654321"})
    deliver()
    assert len(mail(smtp_settings)) == before
    assert Subject.objects.get(agency=detention).person_id != subject.person_id
    assert not LinkDecision.objects.filter(decision=Decision.LINKED).exists()


def test_a_late_a_number_links_and_the_victim_hears_the_newest_state_once(
        agency: Agency, detention: Agency, smtp_settings: SmtpServer) -> None:
    subject = book(agency, "S-1")
    registered(smtp_settings, language="en")
    handed_over(agency, subject, hours_ago=5)
    booked_at(detention, "D-79", hours_ago=4, first_name="M.", last_name="Garcia", date_of_birth="1975-01-01")
    deliver()
    before = len(mail(smtp_settings))  # the release only: the booking at B was nobody's yet
    # A hearing is no custody change, but it carries the A-number that joins the two records.
    ingest(detention, {
        "event_id": "D-79-hearing", "type": "HEARING_SCHEDULED", "hearing_id": "H-1", "court_name": "Immigration Court",
        "occurred_at": (timezone.now() - timedelta(hours=2)).isoformat(), "facility_code": "main",
        "scheduled_for": (timezone.now() + timedelta(days=9)).isoformat(),
        "subject": {"agency_subject_id": "D-79", "first_name": "M.", "last_name": "Garcia",
                    "identifiers": {"a_number": "123456789"}, "country_of_birth": "MX"},
    })
    deliver()
    new = mail(smtp_settings)[before:]
    bookings = [m for m in new if "was booked into South Texas Detention Center" in m]
    assert len(bookings) == 1, new
    ingest(detention, {"event_id": "D-79-dup-hearing", "type": "HEARING_RESCHEDULED", "hearing_id": "H-1",
                       "court_name": "Immigration Court",
                       "occurred_at": (timezone.now() - timedelta(hours=1)).isoformat(), "facility_code": "main",
                       "scheduled_for": (timezone.now() + timedelta(days=10)).isoformat(),
                       "subject": {"agency_subject_id": "D-79", "first_name": "M.", "last_name": "Garcia"}})
    deliver()
    assert len([m for m in mail(smtp_settings) if "was booked into" in m]) == 1


def test_a_wrong_link_undone_sends_a_correction_and_keeps_the_subscription(
        agency: Agency, detention: Agency, smtp_settings: SmtpServer) -> None:
    subject = book(agency, "S-1")
    registered(smtp_settings, language="en")
    subscription = Subscription.objects.get()
    booked_at(detention, "D-80", first_name="Maria Jose", last_name="Garcia", date_of_birth="1980-05-17",
              identifiers={"a_number": "123456789"})
    deliver()
    assert "was booked into South Texas Detention Center" in mail(smtp_settings)[-1]
    decision = LinkDecision.objects.get(decision=Decision.LINKED)

    undone = link_undo(decision=decision, actor=Actor.staff("user:1", "privacy_officer"),
                       reason="different people: the officer checked the photos")
    assert [n.event.subject.agency_id for n in undone.wrong_messages if n.event] == [detention.pk]
    deliver()
    assert "we wrongly took to be the person you registered for" in mail(smtp_settings)[-1]
    subscription.refresh_from_db()
    assert subscription.person_id == subject.person_id
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert Subject.objects.get(agency=detention).person_id != subject.person_id
    assert AuditEntry.objects.filter(object_type="link_decision", object_id=str(decision.pk), action="update").exists()

    # The undone pair is never linked again by the machine, and nothing more reaches the victim about D-80.
    count = Notification.objects.count()
    booked_at(detention, "D-80", hours_ago=0, event_id="D-80-again", first_name="Maria Jose", last_name="Garcia",
              identifiers={"a_number": "123456789"})
    assert Subject.objects.get(agency=detention).person_id != subject.person_id
    assert Notification.objects.count() == count


def test_a_sanctuary_agency_holding_the_person_is_named_to_no_one(
        agency: Agency, detention: Agency, smtp_settings: SmtpServer) -> None:
    detention.sharing_policy = {"deny_purposes": ["victim_notification"]}
    detention.save()
    book(agency, "S-1")
    registered(smtp_settings, language="en")
    booked_at(detention, "D-81", first_name="Maria Jose", last_name="Garcia", date_of_birth="1980-05-17",
              identifiers={"a_number": "123456789"})
    deliver()
    last = mail(smtp_settings)[-1]
    assert "is in the custody of another agency" in last
    assert "South Texas" not in last and "South Detention" not in last
    # Found through county A's record, the person shows as held, but not where.
    found = Client().get("/api/v1/locator", {"first_name": "María José", "last_name": "García Núñez",
                                             "country_of_birth": "MX"}).json()["results"]
    assert [(r["status"], r["facility"]) for r in found] == [("IN_CUSTODY", None)]


def test_the_locator_shows_where_a_linked_person_is_now(agency: Agency, detention: Agency) -> None:
    subject = book(agency, "S-1")
    handed_over(agency, subject)
    booked_at(detention, "D-82", first_name="Maria Jose", last_name="Garcia", date_of_birth="1980-05-17",
              identifiers={"a_number": "123456789"})
    [found] = Client().get("/api/v1/locator", {"first_name": "María José", "last_name": "García Núñez",
                                                "country_of_birth": "MX"}).json()["results"]
    assert found["status"] == "IN_CUSTODY"
    assert found["facility"]["name"] == "South Texas Detention Center"


def test_a_probable_pair_without_an_identifier_waits_for_a_person(agency: Agency, detention: Agency) -> None:
    subject = book(agency, "S-1", a_number=None)
    # Name and birthday agree, the country of birth does not: probable, not certain.
    booked_at(detention, "D-83", first_name="María José", last_name="García Núñez", date_of_birth="1980-05-17",
              country_of_birth="GT")
    # The model's turn comes in the pending job, seconds after the batch.
    assert not ReviewItem.objects.exists()
    assert pending_link(now=timezone.now()) == 2  # both agencies' subjects, each once
    assert pending_link(now=timezone.now()) == 0
    item = ReviewItem.objects.get()
    assert {item.left_id, item.right_id} == {subject.pk, Subject.objects.get(agency=detention).pk}
    assert Subject.objects.get(agency=detention).person_id != subject.person_id


def test_a_link_tells_a_partner_nothing_a_sanctuary_agency_does_not_share(agency: Agency, detention: Agency) -> None:
    agency.sharing_policy = {"deny_partners": [detention.code]}
    agency.save()
    book(agency, "S-1")
    booked_at(detention, "D-84", first_name="Maria Jose", last_name="Garcia", date_of_birth="1980-05-17",
              identifiers={"a_number": "123456789"})
    assert LinkDecision.objects.filter(decision=Decision.LINKED).exists()
    # Detention asks by the A-number and by the county's own ids: it sees its own record, never the county's.
    by_number = partner_subjects_find(partner=detention, purpose=Purpose.LAW_ENFORCEMENT,
                                      lookup=PartnerLookup(a_number="123456789"))
    assert [v["agency_code"] for v in by_number] == [detention.code]
    assert partner_subjects_find(partner=detention, purpose=Purpose.LAW_ENFORCEMENT,
                                 lookup=PartnerLookup(agency_code=agency.code, agency_subject_id="S-1")) == []


def test_a_link_by_name_alone_comes_from_the_job_and_the_victim_hears_the_booking_once(
        agency: Agency, detention: Agency, smtp_settings: SmtpServer) -> None:
    subject = book(agency, "S-1")
    registered(smtp_settings, language="en")
    handed_over(agency, subject, hours_ago=5)
    # No identifier: only the model can say this is the same woman, and it speaks in the pending job.
    booked_at(detention, "D-85", hours_ago=4, first_name="Maria Jose", last_name="Garcia Nunez",
              date_of_birth="1980-05-17")
    deliver()
    assert not any("was booked into" in m for m in mail(smtp_settings))
    assert Subject.objects.get(agency=detention).person_id != subject.person_id

    pending_link(now=timezone.now())
    deliver()
    assert Subject.objects.get(agency=detention).person_id == subject.person_id
    assert LinkDecision.objects.get(decision=Decision.LINKED).rule == ""
    pending_link(now=timezone.now())
    deliver()
    assert len([m for m in mail(smtp_settings) if "was booked into South Texas Detention Center" in m]) == 1


def _a_record_a_generation_apart(detention: Agency, settings: Any) -> Subject:
    """Detention books someone with the county subject's name and A-number but a birthday a generation apart and
    another country of birth: no rule links them, the model finds them probable (above a link threshold of
    0.99), and they look like a father and his son; nobody else of the family is in view."""
    settings.VINEX_LINKAGE_LINK_THRESHOLD = 0.99
    booked_at(detention, "D-90", first_name="María José", last_name="García Núñez", date_of_birth="1954-05-17",
              country_of_birth="GT", identifiers={"a_number": "123456789"})
    return Subject.objects.get(agency=detention)


def test_a_pair_that_looks_like_relatives_waits_while_the_other_is_in_custody_elsewhere(
        agency: Agency, detention: Agency, settings: Any) -> None:
    county = book(agency, "S-1")  # in custody at the county, now
    held = _a_record_a_generation_apart(detention, settings)
    pending_link(now=timezone.now())
    item = ReviewItem.objects.get()
    assert {item.left_id, item.right_id} == {county.pk, held.pk}
    assert "both are in custody right now, at two agencies" in item.evidence
    assert Subject.objects.get(pk=held.pk).person_id != Subject.objects.get(pk=county.pk).person_id


def test_the_same_pair_links_once_the_county_has_let_him_go(agency: Agency, detention: Agency,
                                                           settings: Any) -> None:
    county = book(agency, "S-1")
    handed_over(agency, county)
    held = _a_record_a_generation_apart(detention, settings)
    pending_link(now=timezone.now())
    assert not ReviewItem.objects.exists(), ReviewItem.objects.values("probability", "evidence").get()
    decision = LinkDecision.objects.get(decision=Decision.LINKED)
    assert "looks like relatives: birthdays agree at no level" in decision.evidence
    assert Subject.objects.get(pk=held.pk).person_id == Subject.objects.get(pk=county.pk).person_id
