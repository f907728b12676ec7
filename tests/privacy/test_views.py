from __future__ import annotations

import pytest
from django.test import Client

from tests.accounts.helpers import staff_client
from tests.actors import ACTOR
from tests.locator.people import book
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency, Subject
from vinex.notify.models import Notification, SubscriptionStatus, Tier
from vinex.notify.services import contact_add, registrant_create, subscription_create
from vinex.registrations.models import Registration, RegistrationStatus

pytestmark = pytest.mark.django_db


def held_registration(agency: Agency) -> Registration:
    subject = book(agency, "S-1")
    registrant = registrant_create(actor=ACTOR, language="es")
    contact_add(actor=ACTOR, registrant=registrant, channel="email", value="held@example.org", verified=True)
    subscription = subscription_create(actor=ACTOR, registrant=registrant, person=subject.person)
    return Registration.objects.create(registrant=registrant, subscription=subscription, channel="web",
                                       ip_hash="h", status=RegistrationStatus.HELD,
                                       decision_reason="a contact already follows 5 other people")


def test_the_queue_shows_why_and_the_view_is_audited(agency: Agency) -> None:
    registration = held_registration(agency)
    officer, user = staff_client("pat", "privacy_officer")
    page = officer.get("/staff/privacy/review/").content.decode()
    assert "a contact already follows 5 other people" in page and "held@example.org" not in page
    assert AuditEntry.objects.filter(actor=f"user:{user.pk}", action="read", object_type="registration",
                                     object_id=str(registration.public_id)).exists()


def test_activating_confirms_to_the_registrant_and_is_audited(agency: Agency) -> None:
    registration = held_registration(agency)
    officer, _ = staff_client("pat", "privacy_officer")
    response = officer.post(f"/staff/privacy/review/{registration.public_id}/", {"decision": "approve"})
    assert response.status_code == 302
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.ACTIVE
    assert registration.subscription.status == SubscriptionStatus.ACTIVE
    assert Notification.objects.filter(template="registration_confirmed").count() == 1
    assert AuditEntry.objects.get(action="review").outcome == "approved"


def test_refusing_withdraws_the_subscription(agency: Agency) -> None:
    registration = held_registration(agency)
    officer, _ = staff_client("pat", "privacy_officer")
    officer.post(f"/staff/privacy/review/{registration.public_id}/", {"decision": "refuse"})
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.REFUSED
    assert registration.subscription.status == SubscriptionStatus.WITHDRAWN
    assert not Notification.objects.exists()


def test_only_privacy_officers_decide(agency: Agency, client: Client) -> None:
    registration = held_registration(agency)
    agent, _ = staff_client("kim", "call_centre")
    assert agent.post(f"/staff/privacy/review/{registration.public_id}/", {"decision": "approve"}).status_code == 403
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.HELD


def test_approving_a_protected_persons_registration_gives_the_officer_approved_tier(agency: Agency) -> None:
    registration = held_registration(agency)
    Subject.objects.filter(person=registration.subscription.person).update(protected=True)
    officer, _ = staff_client("pat", "privacy_officer")

    officer.post(f"/staff/privacy/review/{registration.public_id}/", {"decision": "approve"})

    registration.subscription.refresh_from_db()
    assert registration.subscription.tier == Tier.OFFICER_APPROVED


def active_with_case(agency: Agency, case_number: str) -> Registration:
    registration = held_registration(agency)
    Registration.objects.filter(pk=registration.pk).update(status=RegistrationStatus.ACTIVE)
    registration.refresh_from_db()
    registration.case_number = case_number
    registration.save()
    return registration


def test_one_agent_alone_cannot_make_a_verified_victim_a_second_person_can(agency: Agency) -> None:
    registration = active_with_case(agency, "CR-2026-0042")
    agent, user = staff_client("kim", "call_centre")
    colleague, other = staff_client("lee", "call_centre")
    url = f"/staff/privacy/cases/{registration.public_id}/"

    page = agent.get("/staff/privacy/cases/").content.decode()
    agent.post(url, {"decision": "confirmed"})
    agent.post(url, {"decision": "confirmed"})  # the same agent twice is still one person

    assert "CR-2026-0042" in page
    registration.refresh_from_db()
    assert registration.case_checked_at is None and registration.subscription.tier == Tier.PUBLIC
    assert f"Confirmed once (user:{user.pk})" in colleague.get("/staff/privacy/cases/").content.decode()

    confirmed = colleague.post(url, {"decision": "confirmed"})
    again = agent.post(url, {"decision": "not_confirmed"}, follow=True)

    assert confirmed.status_code == 302
    registration.refresh_from_db()
    assert registration.case_confirmed is True
    assert registration.subscription.tier == Tier.VERIFIED_VICTIM
    assert "already checked" in again.content.decode()
    steps = AuditEntry.objects.filter(action="verify_case").order_by("seq")
    assert [(e.actor, e.role, e.outcome) for e in steps] == [
        (f"user:{user.pk}", "call_centre", "first_confirmation"),
        (f"user:{user.pk}", "call_centre", "first_confirmation"),
        (f"user:{other.pk}", "call_centre", "confirmed"),
        (f"user:{other.pk}", "call_centre", "second_confirmation"),
    ]
    assert steps.last().purpose == f"first confirmed by user:{user.pk} (call_centre)"  # type: ignore[union-attr]
    assert "CR-2026-0042" not in agent.get("/staff/privacy/cases/").content.decode()


def test_a_privacy_officer_confirms_a_case_alone(agency: Agency) -> None:
    registration = active_with_case(agency, "CR-9")
    officer, _ = staff_client("pat", "privacy_officer")

    officer.post(f"/staff/privacy/cases/{registration.public_id}/", {"decision": "confirmed"})

    registration.refresh_from_db()
    assert registration.subscription.tier == Tier.VERIFIED_VICTIM


def test_a_case_not_confirmed_leaves_the_public_tier(agency: Agency) -> None:
    registration = active_with_case(agency, "CR-1")
    officer, _ = staff_client("pat", "privacy_officer")

    officer.post(f"/staff/privacy/cases/{registration.public_id}/", {"decision": "not_confirmed"})

    registration.refresh_from_db()
    assert registration.case_confirmed is False and registration.subscription.tier == Tier.PUBLIC


def test_agency_operators_cannot_see_case_numbers(agency: Agency) -> None:
    active_with_case(agency, "CR-7")
    operator, _ = staff_client("op", "agency_operator")

    assert operator.get("/staff/privacy/cases/").status_code == 403
