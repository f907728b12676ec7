from __future__ import annotations

import pytest

from tests.locator.people import book
from vinex.custody.models import Agency, Subject
from vinex.privacy.registration import Outcome, registration_check

pytestmark = pytest.mark.django_db


def test_registrations_for_ordinary_people_are_allowed(agency: Agency) -> None:
    subject = book(agency, "S-1")
    decision = registration_check(person=subject.person, contacts=[], ip_hash="h", channel="web")
    assert decision.outcome == Outcome.ALLOW and decision.allowed


def test_registrations_for_protected_people_are_refused(agency: Agency) -> None:
    subject = book(agency, "S-1", protected=True)
    decision = registration_check(person=subject.person, contacts=[], ip_hash="h", channel="api")
    assert decision.outcome == Outcome.REFUSE
    assert decision.reason


def test_protection_by_any_agency_covers_the_person(agency: Agency, other_agency: Agency) -> None:
    subject = book(agency, "S-1")
    Subject.objects.create(agency=other_agency, agency_subject_id="X-9", person=subject.person, first_name="A",
                           last_name="B", protected=True)
    decision = registration_check(person=subject.person, contacts=[], ip_hash="h", channel="web")
    assert decision.outcome == Outcome.REFUSE
