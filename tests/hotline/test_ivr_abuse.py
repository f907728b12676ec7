"""The phone menu is held to the public locator's audit and abuse checks (issue 15, item 5)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.hotline.test_ivr import CALLER, IvrCall
from tests.locator.people import book
from tests.support.twilio_fake import FakeTwilio
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency
from vinex.notify.models import Notification
from vinex.registrations.models import Registration, RegistrationStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(agency: Agency, twilio_settings: FakeTwilio) -> None:
    book(agency, "S-1", booking_number="20260042")


def look_up(call: IvrCall) -> str:
    call.dial()
    call.press("1")  # English
    call.press("1")  # by booking number (one agency: no agency menu)
    call.press("20260042")
    return call.press("05171980")


def test_a_phone_lookup_is_audited_with_the_caller_hashed(person: None) -> None:
    assert "María José García Núñez" in look_up(IvrCall(Client()))
    [entry] = AuditEntry.objects.filter(action="view", object_type="person")
    assert entry.actor.startswith("public:") and "ivr" in entry.purpose
    assert CALLER not in entry.actor and CALLER[2:] not in entry.actor


def test_a_booking_number_by_phone_needs_the_date_of_birth(person: None) -> None:
    call = IvrCall(Client())
    call.dial()
    call.press("1")
    call.press("1")
    assert "date of birth" in call.press("20260042")
    assert "We found nobody" in call.press("01011990")


def test_every_caller_together_has_a_search_budget(person: None, settings: Any) -> None:
    settings.VINEX_IVR_SEARCH_BUDGET = "2/hour"
    heard = [look_up(IvrCall(Client(), caller=f"+1202555014{n}", sid=f"CA{n:032d}")) for n in range(3)]
    assert ["Too many searches" in h for h in heard] == [False, False, True]


def test_a_phone_registration_from_a_caller_who_swept_the_locator_is_held(person: None, settings: Any) -> None:
    settings.VINEX_ABUSE_MAX_PEOPLE_LOOKED_UP = 0
    call = IvrCall(Client())
    look_up(call)
    call.press("1")  # register this number
    call.press("4821")
    code_call = Notification.objects.get(template="verification_code")
    code = "".join(code_call.body.split("code is ")[1].split(".")[0].split(", "))
    again = IvrCall(Client(), sid="CA" + "b" * 32)
    again.dial()
    again.press("1")
    again.press("3")
    assert "will be reviewed" in again.press(code)
    registration = Registration.objects.get()
    assert registration.status == RegistrationStatus.HELD and "looked up 1 different people" in (
        registration.decision_reason)
