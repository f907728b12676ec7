from __future__ import annotations

import pytest

from tests.actors import ACTOR
from tests.locator.people import book
from vinex.custody.models import Agency, Subject
from vinex.registrations.screening import Outcome, registration_check

pytestmark = pytest.mark.django_db


def test_registrations_for_ordinary_people_are_allowed(agency: Agency) -> None:
    subject = book(agency, "S-1")
    decision = registration_check(person=subject.person, contacts=[], ip_hash="h", channel="web")
    assert decision.outcome == Outcome.ALLOW and decision.allowed


def test_registrations_for_protected_people_wait_for_a_privacy_officer(agency: Agency) -> None:
    subject = book(agency, "S-1", protected=True)
    decision = registration_check(person=subject.person, contacts=[], ip_hash="h", channel="hotline")
    assert decision.outcome == Outcome.HOLD
    assert "protected" in decision.reason


def test_protection_by_any_agency_covers_the_person(agency: Agency, other_agency: Agency) -> None:
    subject = book(agency, "S-1")
    Subject.objects.create(agency=other_agency, agency_subject_id="X-9", person=subject.person, first_name="A",
                           last_name="B", protected=True)
    decision = registration_check(person=subject.person, contacts=[], ip_hash="h", channel="web")
    assert decision.outcome == Outcome.HOLD and "protected" in decision.reason


def _following(agency: Agency, count: int, email: str) -> None:
    from vinex.notify.models import SubscriptionStatus
    from vinex.notify.services import contact_add, registrant_create, subscription_create

    for n in range(count):
        followed = book(agency, f"F-{n}")
        registrant = registrant_create(actor=ACTOR, language="en")
        contact_add(actor=ACTOR, registrant=registrant, channel="email", value=email, verified=True)
        subscription_create(actor=ACTOR,
                            registrant=registrant, person=followed.person, status=SubscriptionStatus.ACTIVE)


def test_one_address_following_many_people_is_held_for_review(agency: Agency, settings: object) -> None:
    from vinex.notify.services import contact_add, registrant_create

    _following(agency, 5, "watcher@example.org")
    subject = book(agency, "S-1")
    newcomer = contact_add(registrant=registrant_create(language="en", actor=ACTOR),
                           channel="email", value="Watcher@Example.org", actor=ACTOR)
    decision = registration_check(person=subject.person, contacts=[newcomer], ip_hash="h", channel="web")
    assert decision.outcome == Outcome.HOLD and "follows 5 other people" in decision.reason
    other = contact_add(registrant=registrant_create(language="en", actor=ACTOR),
                        channel="email", value="someone@example.org", actor=ACTOR)
    assert registration_check(person=subject.person, contacts=[other], ip_hash="h", channel="web").allowed


def test_many_registrations_from_one_address_are_held_but_not_from_the_call_centre(agency: Agency) -> None:
    from vinex.notify.services import registrant_create, subscription_create
    from vinex.registrations.models import Registration

    subject = book(agency, "S-1")
    for _ in range(11):
        registrant = registrant_create(actor=ACTOR, language="en")
        subscription = subscription_create(actor=ACTOR, registrant=registrant, person=subject.person)
        Registration.objects.create(registrant=registrant, subscription=subscription, channel="web", ip_hash="busy")
    assert registration_check(person=subject.person, contacts=[], ip_hash="busy", channel="web").outcome == Outcome.HOLD
    assert registration_check(person=subject.person, contacts=[], ip_hash="busy", channel="hotline").allowed
    assert registration_check(person=subject.person, contacts=[], ip_hash="quiet", channel="web").allowed
