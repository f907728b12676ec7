"""What ``registration_messages`` says of each message: event, channel, status, when it was handed over
and delivered, how a call was confirmed, and every attempt; the reads are audited."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.actors import ACTOR
from tests.hotline.test_ivr_mine import caller  # noqa: F401 - the fixture
from tests.notify.test_voice import Call, signed_post
from tests.portal.mail import deliver
from tests.support.twilio_fake import FakeTwilio
from vinex.audit.models import AuditEntry
from vinex.notify.models import CallPreference
from vinex.registrations.history import message_status_words, registration_history, registration_messages
from vinex.registrations.models import Registration
from vinex.registrations.services import RegistrationInvalid, registration_preferences_update

pytestmark = pytest.mark.django_db


def test_a_call_confirmed_with_the_pin_says_so(caller: Registration, client: Client,  # noqa: F811
                                                twilio_settings: FakeTwilio) -> None:
    deliver()
    call = Call(client, twilio_settings.calls[-1])
    call.answer()
    call.key("4821")
    [release, confirmed, code] = registration_messages(registration=caller)
    assert (release.event_type, release.channel, release.status) == ("RELEASED", "voice", "delivered")
    assert release.confirmed_by == "pin" and release.confirmed_at and release.handed_over_at and release.reached
    assert len(release.calls) == 1 and [a.outcome for a in release.attempts] == ["sent"]
    assert release.contact == "•••0143"
    assert message_status_words(release) == "Confirmed with your PIN"
    assert (confirmed.template, code.template, code.event_type) == ("registration_confirmed", "verification_code", "")


def test_a_call_confirmed_by_a_text_reply_says_so(caller: Registration, client: Client,  # noqa: F811
                                                  twilio_settings: FakeTwilio) -> None:
    deliver()
    Call(client, twilio_settings.calls[-1]).end("no-answer")
    assert registration_messages(registration=caller)[0].status == "failed_transient"
    signed_post(client, "https://vinex.example.org/webhooks/twilio/sms", {"From": "+12025550143", "Body": "ok"})
    release = registration_messages(registration=caller)[0]
    assert release.confirmed_by == "reply" and message_status_words(release) == "Confirmed by your text reply"


def test_reading_the_history_is_audited(caller: Registration) -> None:  # noqa: F811
    messages = registration_history(registration=caller, actor=ACTOR, purpose="advocate caseload")
    reads = AuditEntry.objects.filter(action="read", object_type="notification", purpose="advocate caseload")
    assert {int(e.object_id) for e in reads} == {m.id for m in messages}


def test_no_calls_is_refused_without_a_way_to_write(caller: Registration) -> None:  # noqa: F811
    with pytest.raises(RegistrationInvalid) as refused:
        registration_preferences_update(registration=caller, actor=ACTOR, call_preference=CallPreference.NONE)
    assert refused.value.errors[0].type == "no_written_contact"
    caller.registrant.refresh_from_db()
    assert caller.registrant.call_preference == CallPreference.STANDARD
