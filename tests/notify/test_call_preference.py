"""How insistent calls are, as the registrant chose: ``none`` never places a call, ``gentle`` places one and
then writes; and a text reply from a number registered only for calls confirms the call. Calls go through
the real Twilio SDK to a fake Twilio at the network edge."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.actors import ACTOR
from tests.conftest import event
from tests.custody.test_services import ingest
from tests.notify.test_voice import PHONE, Call, signed_post, voice_registrant
from tests.notify.test_worker import Clock
from tests.support.twilio_fake import FakeTwilio
from vinex.custody.models import Agency
from vinex.notify.channels import channels_build
from vinex.notify.models import CallPreference, Notification, NotificationStatus, Registrant
from vinex.notify.services import contact_add
from vinex.notify.voice import registrant_call_preference_set
from vinex.notify.worker import Worker

pytestmark = pytest.mark.django_db
EMAIL = "writing@example.org"


@pytest.fixture
def calling(agency: Agency, twilio_settings: FakeTwilio) -> tuple[Worker, Clock]:
    ingest(agency, event("b1", "BOOKED"))
    clock = Clock()
    clock.advance(60)
    return Worker(channels=channels_build(), threads=1, clock=clock), clock


def with_email(registrant: Registrant) -> Registrant:
    contact_add(actor=ACTOR, registrant=registrant, channel="email", value=EMAIL, verified=True)
    return registrant


def prefer(registrant: Registrant, preference: str) -> None:
    registrant_call_preference_set(registrant=registrant, preference=preference, actor=ACTOR)


def test_no_calls_means_no_call_is_ever_placed_and_the_text_still_goes(
        agency: Agency, calling: tuple[Worker, Clock], twilio_settings: FakeTwilio) -> None:
    worker, clock = calling
    prefer(voice_registrant(agency, sms=True), CallPreference.NONE)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    for _ in range(3):
        worker.run_once()
        clock.advance(3600)
    assert twilio_settings.calls == []
    assert not Notification.objects.filter(channel="voice").exists()
    [text] = twilio_settings.messages
    assert text["To"] == PHONE and "was released" in text["Body"]


def test_choosing_no_calls_stops_the_calls_still_waiting_and_writes_instead(
        agency: Agency, client: Client, calling: tuple[Worker, Clock], twilio_settings: FakeTwilio) -> None:
    worker, clock = calling
    registrant = voice_registrant(agency)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    worker.run_once()
    Call(client, twilio_settings.calls[0]).end("no-answer")  # the next call is scheduled in 30 minutes
    with_email(registrant)
    prefer(registrant, CallPreference.NONE)
    voice = Notification.objects.get(channel="voice")
    assert voice.status == NotificationStatus.SUPPRESSED
    assert Notification.objects.filter(channel="email", event=voice.event).count() == 1
    clock.advance(3 * 3600)
    worker.run_once()
    assert len(twilio_settings.calls) == 1


def test_a_call_queued_before_she_chose_no_calls_is_not_placed(
        agency: Agency, calling: tuple[Worker, Clock], twilio_settings: FakeTwilio) -> None:
    worker, _clock = calling
    registrant = voice_registrant(agency)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    # Changed behind the service's back (as by a concurrent request): the worker still checks.
    Registrant.objects.filter(pk=registrant.pk).update(call_preference=CallPreference.NONE)
    worker.run_once()
    assert twilio_settings.calls == []
    assert Notification.objects.get(channel="voice").status == NotificationStatus.SUPPRESSED


def test_gentle_places_one_call_then_a_text_or_email_if_unanswered(
        agency: Agency, client: Client, calling: tuple[Worker, Clock], twilio_settings: FakeTwilio) -> None:
    worker, clock = calling
    registrant = voice_registrant(agency)
    prefer(registrant, CallPreference.GENTLE)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    with_email(registrant)  # added after the event: only the fallback can reach it
    worker.run_once()
    assert len(twilio_settings.calls) == 1
    Call(client, twilio_settings.calls[0]).end("no-answer")
    voice = Notification.objects.get(channel="voice")
    assert voice.status == NotificationStatus.FAILED_PERMANENT
    emails = Notification.objects.filter(channel="email", event=voice.event)
    assert emails.count() == 1
    for _ in range(4):
        clock.advance(31 * 60)
        worker.run_once()
    assert len(twilio_settings.calls) == 1


def test_gentle_with_the_pin_keyed_is_simply_confirmed(
        agency: Agency, client: Client, calling: tuple[Worker, Clock], twilio_settings: FakeTwilio) -> None:
    worker, _clock = calling
    registrant = voice_registrant(agency)
    prefer(registrant, CallPreference.GENTLE)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    with_email(registrant)
    worker.run_once()
    call = Call(client, twilio_settings.calls[0])
    call.answer()
    call.key("4821")
    call.end("completed")
    assert Notification.objects.get(channel="voice").status == NotificationStatus.DELIVERED
    assert not Notification.objects.filter(channel="email").exists()


def test_a_text_reply_from_a_number_registered_only_for_calls_confirms_the_call(
        agency: Agency, client: Client, calling: tuple[Worker, Clock], twilio_settings: FakeTwilio) -> None:
    worker, clock = calling
    voice_registrant(agency, sms=False)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    worker.run_once()
    Call(client, twilio_settings.calls[0]).end("no-answer")
    reply = signed_post(client, "https://vinex.example.org/webhooks/twilio/sms", {"From": PHONE, "Body": "ok"})
    assert "will not call again" in reply.content.decode()
    assert Notification.objects.get(channel="voice").status == NotificationStatus.DELIVERED
    clock.advance(3600)
    worker.run_once()
    assert len(twilio_settings.calls) == 1
