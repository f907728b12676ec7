from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.actors import ACTOR
from tests.conftest import event
from tests.custody.test_services import ingest
from tests.factories import subscribe
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency, Subject
from vinex.hotline.models import Callback, HotlineCall
from vinex.notify.models import Contact, Notification, Registrant
from vinex.notify.services import contact_add, contacts_find, registrant_create, subscription_create
from vinex.privacy.jobs import purge
from vinex.privacy.models import DataReport
from vinex.privacy.retention import retention_purge
from vinex.registrations.models import Registration, RegistrationStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_registrants(agency: Agency) -> tuple[Registrant, Registrant]:
    ingest(agency, event("b1", "BOOKED"))
    left = subscribe(agency, email="left@example.org", sms="+12025550143")
    stays = subscribe(agency, email="stays@example.org")
    ingest(agency, event("r1", "RELEASED", minutes=5))
    return left, stays


def test_contacts_of_those_who_withdrew_long_ago_are_erased(two_registrants: tuple[Registrant, Registrant]) -> None:
    left, stays = two_registrants
    Registrant.objects.filter(pk=left.pk).update(withdrawn_at=timezone.now() - timedelta(days=31))
    report = retention_purge(actor=ACTOR)
    assert report.contacts == 2
    assert {c.value for c in Contact.objects.filter(registrant=left)} == {""}
    assert contacts_find(actor=ACTOR, channel="email", value="left@example.org") == []
    assert [c.value for c in Contact.objects.filter(registrant=stays)] == ["stays@example.org"]
    assert {n.body for n in Notification.objects.filter(contact__registrant=left)} == {""}
    assert Notification.objects.filter(contact__registrant=stays).exclude(body="").count() == 1
    assert AuditEntry.objects.filter(action="delete", object_type="contact").count() == 2
    assert retention_purge(actor=ACTOR).contacts == 0  # a second run finds nothing more


def test_a_recent_withdrawal_is_kept_for_now(two_registrants: tuple[Registrant, Registrant]) -> None:
    left, _ = two_registrants
    Registrant.objects.filter(pk=left.pk).update(withdrawn_at=timezone.now() - timedelta(days=10))
    assert retention_purge(actor=ACTOR).contacts == 0
    assert "left@example.org" in [c.value for c in Contact.objects.filter(registrant=left)]


def test_old_message_bodies_are_erased_but_their_record_stays(two_registrants: tuple[Registrant, Registrant],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    Notification.objects.update(status="delivered", created_at=timezone.now() - timedelta(days=91))
    call_command("purge")
    assert "purged 0 contacts and 3 message bodies" in capsys.readouterr().out
    assert set(Notification.objects.values_list("status", flat=True)) == {"delivered"}
    assert {n.body for n in Notification.objects.all()} == {""}


def _registration(agency: Agency, email: str, status: str, *, days_ago: int, case_number: str = "") -> Registration:
    subject = Subject.objects.get(agency=agency, agency_subject_id="S-1")
    registrant = registrant_create(actor=ACTOR, language="en")
    contact_add(actor=ACTOR, registrant=registrant, channel="email", value=email, verified=status == "active")
    subscription = subscription_create(actor=ACTOR, registrant=registrant, person=subject.person)
    registration = Registration.objects.create(registrant=registrant, subscription=subscription, channel="web",
                                               ip_hash="h", status=status, case_number=case_number or None)
    Registration.objects.filter(pk=registration.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return registration


def _values(registration: Registration) -> list[str]:
    return [c.value for c in Contact.objects.filter(registrant=registration.registrant_id)]


def test_contacts_of_refused_or_never_verified_registrations_are_erased_by_the_scheduler(agency: Agency) -> None:
    ingest(agency, event("b1", "BOOKED"))
    never = _registration(agency, "never@example.org", RegistrationStatus.PENDING, days_ago=31)
    refused = _registration(agency, "refused@example.org", RegistrationStatus.REFUSED, days_ago=31)
    recent = _registration(agency, "recent@example.org", RegistrationStatus.PENDING, days_ago=5)
    active = _registration(agency, "active@example.org", RegistrationStatus.ACTIVE, days_ago=400)

    purge(now=timezone.now())

    assert _values(never) == [""] and _values(refused) == [""]
    assert _values(recent) == ["recent@example.org"] and _values(active) == ["active@example.org"]
    assert contacts_find(actor=ACTOR, channel="email", value="never@example.org") == []
    assert AuditEntry.objects.filter(action="delete", purpose="retention: registration never verified").count() == 2


def test_case_numbers_are_erased_after_the_check_or_when_the_registration_ended(agency: Agency) -> None:
    ingest(agency, event("b1", "BOOKED"))
    checked = _registration(agency, "a@example.org", RegistrationStatus.ACTIVE, days_ago=200, case_number="CR-1")
    Registration.objects.filter(pk=checked.pk).update(case_checked_at=timezone.now() - timedelta(days=91))
    waiting = _registration(agency, "b@example.org", RegistrationStatus.ACTIVE, days_ago=200, case_number="CR-2")
    withdrawn = _registration(agency, "c@example.org", RegistrationStatus.WITHDRAWN, days_ago=91, case_number="CR-3")

    report = retention_purge(actor=ACTOR)

    assert report.case_numbers == 2
    case_numbers = dict(Registration.objects.values_list("pk", "case_number"))
    assert case_numbers == {checked.pk: None, waiting.pk: "CR-2", withdrawn.pk: None}


def test_hotline_names_notes_and_callback_numbers_are_erased_after_the_period() -> None:
    old, recent = timezone.now() - timedelta(days=91), timezone.now() - timedelta(days=10)
    old_call = HotlineCall.objects.create(caller_name="Ann Caller", notes="afraid of him", status="closed",
                                          ended_at=old)
    new_call = HotlineCall.objects.create(caller_name="Bea Caller", notes="call back", status="closed",
                                          ended_at=recent)
    done = Callback.objects.create(phone="+12025550143", notes="after 5pm", due_at=old, status="done",
                                   completed_at=old, timezone="America/New_York")
    due = Callback.objects.create(phone="+12025550199", notes="mornings", due_at=old, status="scheduled",
                                  timezone="America/New_York")

    assert retention_purge(actor=ACTOR).hotline_records == 2

    calls = {c.pk: (c.caller_name, c.notes) for c in HotlineCall.objects.all()}
    assert calls == {old_call.pk: ("", ""), new_call.pk: ("Bea Caller", "call back")}
    callbacks = {c.pk: (c.phone, c.notes) for c in Callback.objects.all()}
    assert callbacks == {done.pk: ("", ""), due.pk: ("+12025550199", "mornings")}
    assert retention_purge(actor=ACTOR).hotline_records == 0


def test_the_details_of_a_long_decided_data_report_are_erased(agency: Agency) -> None:
    ingest(agency, event("b1", "BOOKED"))
    person = Subject.objects.get(agency_subject_id="S-1").person
    old = DataReport.objects.create(person=person, topic="status", details="he is my ex, not released",
                                    ip_hash="h", status="rejected", decision_note="checked with the jail",
                                    decided_at=timezone.now() - timedelta(days=366))
    open_report = DataReport.objects.create(person=person, topic="status", details="still open", ip_hash="h")

    assert retention_purge(actor=ACTOR).report_details == 1

    old.refresh_from_db()
    open_report.refresh_from_db()
    assert (old.details, old.decision_note, old.status) == ("", "", "rejected")
    assert open_report.details == "still open"
