"""A registered caller in the phone menu: with her PIN she hears her last message again, changes how she is
called, or stops her updates; and "speak with someone" rings the call centre's phone before the queue."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.actors import ACTOR
from tests.hotline.test_ivr import CALLER, ENTRY, IvrCall
from tests.locator.people import book
from tests.portal.test_api import release_event
from tests.support.twilio_fake import FakeTwilio
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency, Subject
from vinex.locator.selectors import subject_ref_make
from vinex.notify.models import CallPreference, Notification, Registrant
from vinex.registrations.models import Registration, RegistrationStatus
from vinex.registrations.services import ContactIn, registration_create, verification_check

pytestmark = pytest.mark.django_db
AGENTS = "+12025550100"


@pytest.fixture
def caller(agency: Agency, twilio_settings: FakeTwilio) -> Registration:
    subject = book(agency, "S-1", booking_number="20260042")
    registration = registration_create(subject_ref=subject_ref_make(person_id=subject.person_id), language="en",
                                       contacts=[ContactIn("voice", CALLER)], pin="4821", arrival="hotline",
                                       client_address="test", actor=ACTOR)
    spoken = Notification.objects.get(template="verification_code").body.split("code is ")[1].split(".")[0]
    verification_check(verification=registration.verifications.get(), code="".join(spoken.split(", ")), actor=ACTOR)
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.ACTIVE
    release_event(Subject.objects.get())
    return registration


def menu_for(client: Client, pin: str = "4821", caller_number: str = CALLER) -> IvrCall:
    call = IvrCall(client, caller=caller_number)
    call.dial()
    assert "press 5" in call.press("1")
    assert "Key in your four-digit PIN" in call.press("5")
    call.press(pin)
    return call


def test_with_her_pin_she_hears_her_last_message_again(caller: Registration) -> None:
    call = menu_for(Client())
    assert "To hear your last message again, press 1." in call.heard
    heard = call.press("1")
    assert "María José García Núñez was released from Pine County Jail" in heard
    assert "To change how we call you, press 2." in heard  # back in her menu
    assert AuditEntry.objects.filter(action="read", object_type="notification",
                                     purpose="phone menu: heard again").exists()


def test_a_wrong_pin_or_another_number_finds_nothing(caller: Registration) -> None:
    assert "We found no registration for this number with that PIN." in menu_for(Client(), pin="1111").heard
    assert "We found no registration" in menu_for(Client(), caller_number="+13125550188").heard


def test_she_changes_how_she_is_called_by_phone(caller: Registration) -> None:
    call = menu_for(Client())
    assert "To get no calls at all" in call.press("2")
    assert "We cannot stop calls: you have no email" in call.press("3")  # calls are her only channel
    call.press("2")
    assert "We saved how we call you." in call.press("2")
    assert Registrant.objects.get().call_preference == CallPreference.GENTLE
    assert AuditEntry.objects.get(action="change_call_preference").purpose == "phone menu"


def test_she_stops_her_updates_by_phone(caller: Registration) -> None:
    call = menu_for(Client())
    call.press("3")
    assert "To change how we call you" in call.press("1")  # any other key goes back
    call.press("3")
    assert "Your updates are stopped." in call.press("9") and call.hung_up
    caller.refresh_from_db()
    assert caller.status == RegistrationStatus.WITHDRAWN


def test_a_forged_reference_asks_for_the_pin_again(caller: Registration) -> None:
    call = IvrCall(Client())
    heard = call.post(f"{ENTRY}mine-choice?lang=en&mine=forged", Digits="3")
    assert "Key in your four-digit PIN." in heard
    caller.refresh_from_db()
    assert caller.status == RegistrationStatus.ACTIVE


def test_speak_with_someone_rings_the_call_centre_then_waits_in_the_queue(agency: Agency, settings: Any,
                                                                         twilio_settings: FakeTwilio) -> None:
    settings.VINEX_HOTLINE_AGENT_NUMBER = AGENTS
    client = Client()
    call = IvrCall(client)
    call.dial()
    call.press("1")
    call.press("0")
    assert call.twiml is not None
    dial = call.twiml.find("Dial")
    assert dial is not None and (dial.text or "").strip() == AGENTS
    unanswered = call.post(dial.get("action", ""), DialCallStatus="no-answer")
    assert call.twiml.find("Enqueue") is not None and "Please hold" in unanswered
    call.post(dial.get("action", ""), DialCallStatus="completed")
    assert call.hung_up

    agent = IvrCall(client, caller=AGENTS, sid="CA" + "c" * 32)
    agent.post(f"{ENTRY}agent")
    assert agent.twiml is not None
    queue = agent.twiml.find("Dial/Queue")
    assert queue is not None and queue.text == settings.VINEX_HOTLINE_QUEUE
    stranger = IvrCall(client, caller="+13125550188", sid="CA" + "d" * 32)
    stranger.post(f"{ENTRY}agent")
    assert stranger.hung_up and stranger.twiml is not None and stranger.twiml.find("Dial") is None


def test_the_registered_caller_menu_in_spanish(caller: Registration) -> None:
    call = IvrCall(Client())
    call.dial()
    assert "oprima 5" in call.press("2")
    assert "Marque su PIN de cuatro dígitos." in call.press("5")
    assert "Para escuchar de nuevo su último mensaje, oprima 1." in call.press("4821")
    assert call.voices() == {"es-US"}
