"""Voice notifications: a call through the real Twilio SDK, TwiML back and forth, PIN confirmation,
and the calling schedule, with time moved by the test instead of slept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from twilio.request_validator import RequestValidator

from tests.actors import ACTOR
from tests.conftest import event
from tests.custody.test_services import ingest
from tests.notify.test_worker import Clock
from tests.support.twilio_fake import FakeTwilio
from vinex.custody.models import Agency, Subject
from vinex.notify.channels import channels_build
from vinex.notify.models import Notification, NotificationStatus, Registrant, SubscriptionStatus, VoiceCall
from vinex.notify.services import contact_add, registrant_create, registrant_set_pin, subscription_create
from vinex.notify.voice import voice_call_ended
from vinex.notify.worker import SendOutcome, Worker, notifications_claim, notifications_record

pytestmark = pytest.mark.django_db
PHONE = "+12025550143"


def signed_post(client: Client, url: str, params: dict[str, str], token: str = "test-auth-token") -> Any:
    signature = RequestValidator(token).compute_signature(url, params)
    parts = urlsplit(url)
    return client.post(f"{parts.path}?{parts.query}", data=params, headers={"X-Twilio-Signature": signature})


def voice_registrant(agency: Agency, *, language: str = "en", sms: bool = False) -> Registrant:
    registrant = registrant_create(actor=ACTOR, language=language)
    contact_add(actor=ACTOR, registrant=registrant, channel="voice", value=PHONE, verified=True)
    if sms:
        contact_add(actor=ACTOR, registrant=registrant, channel="sms", value=PHONE, verified=True)
    registrant_set_pin(registrant=registrant, pin="4821")
    subject = Subject.objects.get(agency=agency)
    subscription_create(actor=ACTOR, registrant=registrant, person=subject.person, status=SubscriptionStatus.ACTIVE)
    return registrant


class Call:
    """One call as Twilio would drive our webhooks."""

    def __init__(self, client: Client, placed: dict[str, str]) -> None:
        self.client, self.placed = client, placed

    def answer(self, answered_by: str = "human") -> str:
        params = {"CallSid": self.placed["Sid"], "AnsweredBy": answered_by, "CallStatus": "in-progress"}
        response = signed_post(self.client, self.placed["Url"], params)
        assert response.status_code == 200
        return str(response.content.decode())

    def key(self, digits: str) -> str:
        url = self.placed["Url"].replace("/webhooks/twilio/voice?", "/webhooks/twilio/voice/pin?")
        response = signed_post(self.client, url, {"CallSid": self.placed["Sid"], "Digits": digits})
        return str(response.content.decode())

    def end(self, status: str = "completed") -> None:
        response = signed_post(self.client, self.placed["StatusCallback"], {"CallSid": self.placed["Sid"],
                                                                             "CallStatus": status})
        assert response.status_code == 204


@pytest.fixture
def calling(agency: Agency, twilio_settings: FakeTwilio) -> tuple[Worker, Clock]:
    ingest(agency, event("b1", "BOOKED"))
    clock = Clock()
    clock.advance(60)  # the tests queue their notifications after this fixture, "now" in real time
    return Worker(channels=channels_build(), threads=1, clock=clock), clock


def test_a_release_places_one_call_from_the_published_number(agency: Agency, calling: tuple[Worker, Clock],
                                                              twilio_settings: FakeTwilio) -> None:
    worker, _clock = calling
    voice_registrant(agency)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    worker.run_once()
    [placed] = twilio_settings.calls
    assert placed["To"] == PHONE and placed["From"] == "+15005550006"
    assert placed["Url"].startswith("https://vinex.example.org/webhooks/twilio/voice?ref=")
    assert placed["MachineDetection"] == "DetectMessageEnd"
    assert Notification.objects.get().status == NotificationStatus.SENT


def test_the_right_pin_confirms_and_stops_the_calls(agency: Agency, client: Client, calling: tuple[Worker, Clock],
                                                    twilio_settings: FakeTwilio) -> None:
    worker, clock = calling
    voice_registrant(agency, language="es")
    ingest(agency, event("r1", "RELEASED", minutes=5))
    worker.run_once()
    call = Call(client, twilio_settings.calls[0])
    twiml = call.answer()
    assert '<Gather action="https://vinex.example.org/webhooks/twilio/voice/pin?ref=' in twiml
    assert 'numDigits="4"' in twiml and 'voice="Polly.Lupe"' in twiml and "fue puesto en libertad" in twiml
    assert "no volveremos a llamar" in call.key("4821")
    call.end("completed")
    n = Notification.objects.get()
    assert n.status == NotificationStatus.DELIVERED and VoiceCall.objects.get().confirmed_at
    clock.advance(3 * 3600)
    worker.run_once()
    assert len(twilio_settings.calls) == 1


def test_unanswered_calls_repeat_every_30_minutes_then_every_2_hours_once_answered(
    agency: Agency, client: Client, calling: tuple[Worker, Clock], twilio_settings: FakeTwilio
) -> None:
    worker, clock = calling
    voice_registrant(agency)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    worker.run_once()
    Call(client, twilio_settings.calls[0]).end("no-answer")
    n = Notification.objects.get()
    assert n.status == NotificationStatus.FAILED_TRANSIENT
    clock.advance(29 * 60)
    worker.run_once()
    assert len(twilio_settings.calls) == 1  # not yet
    clock.advance(2 * 60)
    worker.run_once()
    assert len(twilio_settings.calls) == 2
    second = Call(client, twilio_settings.calls[1])
    second.answer()
    second.end("completed")  # answered, no PIN
    clock.advance(60 * 60)
    worker.run_once()
    assert len(twilio_settings.calls) == 2
    clock.advance(61 * 60)
    worker.run_once()
    assert len(twilio_settings.calls) == 3


def test_a_wrong_pin_three_times_hangs_up_politely_and_calls_again(
    agency: Agency, client: Client, calling: tuple[Worker, Clock], twilio_settings: FakeTwilio
) -> None:
    worker, clock = calling
    voice_registrant(agency)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    worker.run_once()
    call = Call(client, twilio_settings.calls[0])
    call.answer()
    assert "Please enter your four-digit PIN again" in call.key("0000")
    assert "<Gather" in call.key("1111")
    last = call.key("2222")
    assert "We will call again later. Goodbye." in last and "<Hangup" in last and "<Gather" not in last
    call.end("completed")
    assert Notification.objects.get().status == NotificationStatus.FAILED_TRANSIENT
    clock.advance(2 * 3600 + 60)
    worker.run_once()
    assert len(twilio_settings.calls) == 2


def test_a_voicemail_hears_the_message_and_the_hotline(agency: Agency, client: Client, settings: Any,
                                                       calling: tuple[Worker, Clock],
                                                       twilio_settings: FakeTwilio) -> None:
    settings.VINEX_HOTLINE_NUMBER = "+1 555 010 0999"
    worker, _clock = calling
    voice_registrant(agency)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    worker.run_once()
    twiml = Call(client, twilio_settings.calls[0]).answer("machine_end_beep")
    assert "was released from Pine County Jail" in twiml and "+1 555 010 0999" in twiml
    assert "<Gather" not in twiml and "<Hangup" in twiml


def test_after_24_hours_unconfirmed_the_calls_stop_and_an_email_follows(
    agency: Agency, client: Client, calling: tuple[Worker, Clock], twilio_settings: FakeTwilio
) -> None:
    worker, clock = calling
    registrant = voice_registrant(agency)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    contact_add(actor=ACTOR, registrant=registrant, channel="email", value="late@example.org", verified=True)
    for _ in range(60):
        worker.run_once()
        placed = twilio_settings.calls[-1]
        # Twilio's status callback, at the test's notion of now (a day cannot pass in real time here).
        voice_call_ended(notification=Notification.objects.get(channel="voice"), call_sid=placed["Sid"],
                         call_status="no-answer", answered_by="", now=clock.now)
        if Notification.objects.get(channel="voice").status == NotificationStatus.FAILED_PERMANENT:
            break
        clock.advance(31 * 60)
    voice = Notification.objects.get(channel="voice")
    assert voice.status == NotificationStatus.FAILED_PERMANENT
    assert 40 <= len(twilio_settings.calls) <= 49  # every 30 minutes for 24 hours
    assert Notification.objects.filter(channel="email", event=voice.event).count() == 1


def test_replying_to_the_text_confirms_the_call(agency: Agency, client: Client, calling: tuple[Worker, Clock],
                                               twilio_settings: FakeTwilio) -> None:
    worker, clock = calling
    voice_registrant(agency, sms=True)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    worker.run_once()
    Call(client, twilio_settings.calls[0]).end("no-answer")
    reply = signed_post(client, "https://vinex.example.org/webhooks/twilio/sms", {"From": PHONE, "Body": "ok got it"})
    assert "will not call again" in reply.content.decode()
    assert Notification.objects.get(channel="voice").status == NotificationStatus.DELIVERED
    clock.advance(3600)
    worker.run_once()
    assert len(twilio_settings.calls) == 1


def test_forged_voice_webhooks_are_refused(agency: Agency, client: Client, calling: tuple[Worker, Clock],
                                           twilio_settings: FakeTwilio) -> None:
    worker, _clock = calling
    voice_registrant(agency)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    worker.run_once()
    placed = twilio_settings.calls[0]
    forged = signed_post(client, placed["Url"].replace("/voice?", "/voice/pin?"),
                         {"CallSid": placed["Sid"], "Digits": "4821"}, token="wrong")
    assert forged.status_code == 403
    assert Notification.objects.get().status == NotificationStatus.SENT


def test_the_pin_must_be_four_digits(agency: Agency) -> None:
    registrant = registrant_create(actor=ACTOR, language="en")
    for bad in ("123", "12345", "abcd"):
        with pytest.raises(ValueError, match="4 digits"):
            registrant_set_pin(registrant=registrant, pin=bad)
    registrant_set_pin(registrant=registrant, pin="0042")
    assert registrant.pin_hash.startswith("argon2") and "0042" not in registrant.pin_hash


def test_voice_retry_window_is_bounded() -> None:
    from django.utils import timezone

    from vinex.notify.retry import voice_next_attempt_at

    start = timezone.now()
    assert voice_next_attempt_at(first_queued_at=start, answered=False, now=start) == start + timedelta(minutes=30)
    assert voice_next_attempt_at(first_queued_at=start, answered=True, now=start) == start + timedelta(hours=2)
    late = start + timedelta(hours=23, minutes=45)
    assert voice_next_attempt_at(first_queued_at=start, answered=False, now=late) is None


def test_a_code_call_says_the_code_twice_and_is_not_repeated(agency: Agency, client: Client,
                                                              calling: tuple[Worker, Clock],
                                                              twilio_settings: FakeTwilio) -> None:
    from vinex.notify.services import notification_enqueue_direct

    worker, clock = calling
    registrant = registrant_create(actor=ACTOR, language="en")
    contact = contact_add(actor=ACTOR, registrant=registrant, channel="voice", value=PHONE)
    notification_enqueue_direct(actor=ACTOR,
                                contact=contact, template="verification_code", body="Your code is 4 1 7 2 0 9.",
                                language="en")
    worker.run_once()
    call = Call(client, twilio_settings.calls[0])
    twiml = call.answer()
    assert twiml.count("Your code is 4 1 7 2 0 9.") == 2 and "<Gather" not in twiml
    call.end("no-answer")
    assert Notification.objects.get().status == NotificationStatus.FAILED_PERMANENT
    clock.advance(3600)
    worker.run_once()
    assert len(twilio_settings.calls) == 1


def test_a_call_that_ends_before_the_worker_records_it_is_still_called_again(
    agency: Agency, client: Client, twilio_settings: FakeTwilio
) -> None:
    ingest(agency, event("b1", "BOOKED"))
    voice_registrant(agency)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    [claimed] = notifications_claim(worker="w:1", limit=10, now=timezone.now())
    started = timezone.now()
    result = channels_build()["voice"].send(claimed)
    Call(client, twilio_settings.calls[0]).end("busy")  # Twilio reports before the worker wrote anything down
    assert Notification.objects.get().status == NotificationStatus.SENDING
    notifications_record(outcomes=[SendOutcome(claimed, started, timezone.now(), result=result)], worker="w:1",
                         now=timezone.now())
    n = Notification.objects.get()
    assert n.status == NotificationStatus.FAILED_TRANSIENT and n.last_error == "call busy"
    assert 29 * 60 <= (n.next_attempt_at - timezone.now()).total_seconds() <= 30 * 60
