"""Scripted calls through the phone menu: every step is Twilio posting, signed, to our endpoints and
reading back the TwiML, in English and in Spanish."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from twilio.request_validator import RequestValidator

from tests.locator.people import book, ingest
from tests.support.twilio_fake import FakeTwilio
from vinex.audit.unit import Actor
from vinex.custody.models import Agency
from vinex.hotline.models import Callback, CallStatus, HotlineCall
from vinex.linkage.models import LinkDecision
from vinex.linkage.services import link_undo
from vinex.notify.models import Contact, CreatedVia, Notification
from vinex.registrations.models import Registration, RegistrationStatus

pytestmark = pytest.mark.django_db
CALLER = "+12025550143"
ENTRY = "https://vinex.example.org/webhooks/twilio/voice/ivr/"


class IvrCall:
    """One caller in the phone menu: keys go to whatever the last <Gather> asked for."""

    def __init__(self, client: Client, *, caller: str = CALLER, sid: str = "CA" + "a" * 32) -> None:
        self.client, self.caller, self.sid = client, caller, sid
        self.action = ""
        self.heard = ""
        self.twiml: ET.Element | None = None

    def post(self, url: str, **extra: str) -> str:
        params = {"CallSid": self.sid, "From": self.caller, "To": "+15005550006", **extra}
        signature = RequestValidator("test-auth-token").compute_signature(url, params)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = self.client.post(path, data=params, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "application/xml"
        self.twiml = ET.fromstring(response.content)  # noqa: S314 - our own TwiML
        gather = self.twiml.find("Gather")
        self.action = gather.get("action", "") if gather is not None else ""
        self.heard = " ".join(say.text or "" for say in self.twiml.iter("Say"))
        return self.heard

    def dial(self) -> str:
        return self.post(ENTRY)

    def press(self, digits: str) -> str:
        assert self.action, f"nothing is listening for keys after: {self.heard}"
        return self.post(self.action, Digits=digits)

    @property
    def hung_up(self) -> bool:
        return self.twiml is not None and self.twiml.find("Hangup") is not None

    def voices(self) -> set[str]:
        assert self.twiml is not None
        return {say.get("language", "") for say in self.twiml.iter("Say")}


@pytest.fixture
def ivr(agency: Agency, twilio_settings: FakeTwilio) -> Client:
    book(agency, "S-1", booking_number="20260042")
    return Client()


def test_an_unsigned_request_is_refused(ivr: Client) -> None:
    assert ivr.post("/webhooks/twilio/voice/ivr/", {"CallSid": "CA1", "From": CALLER}).status_code == 403


def test_english_booking_number_search_register_with_a_pin_and_key_in_the_code(ivr: Client, settings: Any) -> None:
    call = IvrCall(ivr)
    assert "For English, press 1" in call.dial() and "oprima 2" in call.heard
    assert "press 1" in call.press("1") and call.voices() == {"en-US"}
    assert "immigration status" in call.heard
    assert "Key in the booking number" in call.press("1")  # one agency: no agency menu
    assert "Key in the date of birth as 8 digits" in call.press("20260042")
    heard = call.press("05171980")
    assert "María José García Núñez: in custody, at Pine County Jail." in heard
    assert "press 1" in heard
    assert "Choose a 4-digit PIN" in call.press("1")
    heard = call.press("4821")
    assert "Your PIN is 4, 8, 2, 1." in heard and "we will call it in a moment with a 6-digit code" in heard
    assert call.hung_up

    registration = Registration.objects.get()
    assert registration.status == RegistrationStatus.PENDING and registration.created_via == CreatedVia.HOTLINE
    contact = Contact.objects.get()
    assert contact.channel == "voice" and contact.value == CALLER and contact.verified_at is None
    assert registration.registrant.pin_hash and registration.registrant.language == "en"
    assert HotlineCall.objects.get().registrations.get() == registration
    code_call = Notification.objects.get(template="verification_code")
    assert code_call.channel == "voice" and code_call.contact == contact
    spoken = code_call.body.split("code is ")[1].split(".")[0]
    code = "".join(spoken.split(", "))

    again = IvrCall(ivr, sid="CA" + "b" * 32)
    again.dial()
    again.press("1")
    assert "Key in the 6-digit code" in again.press("3")
    assert "That code is not right" in again.press("000000")
    heard = again.press(code)
    assert "You are now registered for phone calls about this person." in heard and again.hung_up
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.ACTIVE


def test_spanish_a_number_search_and_callback_request(ivr: Client) -> None:
    call = IvrCall(ivr, caller="+13125550188")
    call.dial()
    heard = call.press("2")
    assert "Para buscar a una persona por número de registro de ingreso, oprima 1." in heard
    assert call.voices() == {"es-US"}
    assert "nunca pregunta por la situación migratoria" in heard
    assert "número A" in call.press("2")
    heard = call.press("123456789*52")  # Twilio leaves out the finishing key
    assert "María José García Núñez: bajo custodia, en Pine County Jail." in heard
    assert "devuelva la llamada" in heard
    heard = call.press("2")
    assert "le devolverá la llamada" in heard and call.hung_up
    callback = Callback.objects.get()
    assert callback.phone == "+13125550188" and callback.language == "es"
    assert callback.timezone == "America/Chicago"
    assert HotlineCall.objects.get().outcome == "callback"


def test_nobody_found_and_the_locator_rate_limit_apply(ivr: Client, settings: Any) -> None:
    settings.VINEX_LOCATOR_SESSION_RATE = "2/minute"
    call = IvrCall(ivr)
    call.dial()
    call.press("1")
    call.press("1")
    call.press("99999")
    assert "We found nobody with these details" in call.press("05171980")
    call.press("1")
    call.press("88888")
    assert "We found nobody" in call.press("05171980")
    call.press("1")
    call.press("20260042")
    assert "Too many searches" in call.press("05171980") and call.hung_up


def test_protected_people_are_not_found_by_phone(agency: Agency, twilio_settings: FakeTwilio) -> None:
    book(agency, "S-9", booking_number="777", protected=True)
    call = IvrCall(Client())
    call.dial()
    call.press("1")
    call.press("1")
    call.press("777")
    assert "We found nobody" in call.press("05171980")


def test_speak_with_someone_waits_in_the_console_queue_until_the_caller_hangs_up(ivr: Client) -> None:
    call = IvrCall(ivr)
    call.dial()
    call.press("2")
    call.press("0")
    assert call.twiml is not None and call.twiml.find("Enqueue") is not None
    waiting = HotlineCall.objects.get()
    assert waiting.status == CallStatus.WAITING and waiting.language == "es"
    left = call.twiml.find("Enqueue")
    assert left is not None
    call.post(left.get("action", ""), QueueResult="hangup")
    waiting.refresh_from_db()
    assert waiting.status == CallStatus.CLOSED and waiting.outcome == "dropped"


def test_a_withheld_number_cannot_register_or_ask_for_a_callback(ivr: Client) -> None:
    call = IvrCall(ivr, caller="anonymous")
    call.dial()
    call.press("1")
    assert "We cannot see the number you are calling from" in call.press("4")
    assert not Callback.objects.exists()


def test_no_keys_at_all_ends_the_call_instead_of_looping(ivr: Client) -> None:
    call = IvrCall(ivr)
    call.dial()
    assert call.hung_up  # after the <Gather> times out, Twilio goes on to the goodbye


def test_several_agencies_and_several_people_are_chosen_by_key(agency: Agency, other_agency: Agency,
                                                                twilio_settings: FakeTwilio) -> None:
    book(agency, "S-1", first_name="Ana", last_name="Ruiz", booking_number="555")
    ingest(other_agency, {
        "event_id": "n-1", "type": "BOOKED", "occurred_at": (timezone.now() - timedelta(days=1)).isoformat(),
        "facility_code": "north",
        "subject": {"agency_subject_id": "N-1", "first_name": "Ana", "last_name": "Ruiz Vega",
                    "country_of_birth": "MX", "date_of_birth": "1980-05-17",
                    "identifiers": {"a_number": "123456789", "booking_number": "555"}},
    })
    # One A-number and country: linkage joins the two; an officer found two people and undid the link.
    link_undo(decision=LinkDecision.objects.get(), actor=Actor.staff("user:1", "privacy_officer"),
              reason="two people, one A-number")
    call = IvrCall(Client())
    call.dial()
    call.press("1")
    heard = call.press("1")
    assert "For Pine County Sheriff, press 1." in heard and "For State Prisons, press 2." in heard
    call.press("2")
    call.press("555")
    assert "Ana Ruiz Vega: in custody, at North Prison." in call.press("05171980")
    call.press("3")  # search again
    call.press("2")
    heard = call.press("123456789*52")
    assert "For Ana Ruiz Vega, press 1." in heard and "For Ana Ruiz, press 2." in heard  # newest status first
    assert "To get a phone call at this number" in call.press("1")
    call.press("1")
    call.press("1234")
    registration = Registration.objects.get()
    assert registration.subscription.person.subjects.get().agency == other_agency


def test_a_forged_list_of_people_goes_back_to_the_menu(ivr: Client) -> None:
    call = IvrCall(ivr)
    assert "To find a person by booking number" in call.post(
        "https://vinex.example.org/webhooks/twilio/voice/ivr/person?lang=en&people=forged", Digits="1")


def test_the_entry_without_a_trailing_slash_answers_the_same(ivr: Client, settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.hotline.urls"
    call = IvrCall(ivr)
    assert "For English, press 1" in call.post("https://vinex.example.org/webhooks/twilio/voice/ivr")
    assert "To find a person by booking number" in call.press("1")
