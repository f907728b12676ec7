"""What an advocate reads of a victim's messages: fallbacks, retries, confirmations, and victims who shared."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.actors import ACTOR
from tests.advocates.helpers import advocate, organisation, register_victim
from tests.advocates.test_services import released
from tests.locator.people import book
from tests.registrations.test_services import start
from vinex.advocates.selectors import caseload
from vinex.custody.models import Agency
from vinex.notify import lifecycle
from vinex.notify.models import Notification, NotificationStatus
from vinex.notify.services import contact_add, notification_enqueue_for_contacts
from vinex.notify.voice import voice_confirm_by_reply
from vinex.registrations.history import NextStep, registration_messages
from vinex.registrations.models import RegistrationShare, ShareReason
from vinex.registrations.services import ContactIn

pytestmark = pytest.mark.django_db
N = NotificationStatus


def _hand_over(row: Notification) -> None:
    lifecycle.notification_move(notification_id=row.pk, to=N.SENDING)
    lifecycle.notification_move(notification_id=row.pk, to=N.SENT, sent_at=timezone.now())


def test_unconfirmed_calls_followed_in_writing_and_a_text_to_be_retried(agency: Agency) -> None:
    org = organisation("harbor", agency)
    subject = book(agency, "S-1")
    registration = register_victim(advocate("ada", org), org, subject, ContactIn("voice", "+1 202 555 0143"),
                                   ContactIn("sms", "+1 202 555 0144"), pin="2580")
    released(agency, subject)
    call = Notification.objects.get(event__isnull=False, channel="voice")
    text = Notification.objects.get(event__isnull=False, channel="sms")
    _hand_over(call)
    lifecycle.notification_move(notification_id=call.pk, to=N.FAILED_PERMANENT, last_error="calling window over")
    email = contact_add(registrant=registration.registrant, channel="email", value="vic@example.org", verified=True,
                        actor=ACTOR)
    assert call.event is not None and call.subscription is not None
    notification_enqueue_for_contacts(event=call.event, subscription=call.subscription, contacts=[email])
    retry_at = timezone.now() + timedelta(minutes=5)
    lifecycle.notification_move(notification_id=text.pk, to=N.SENDING)
    lifecycle.notification_move(notification_id=text.pk, to=N.FAILED_TRANSIENT, next_attempt_at=retry_at,
                                last_error="carrier busy")

    messages = registration_messages(registration=registration)
    history = {(m.event_type, m.channel): m for m in messages if m.event_type}
    assert history[("RELEASED", "voice")].next_step == NextStep.FELL_BACK
    assert history[("RELEASED", "email")].fallback_for == "voice"
    assert history[("RELEASED", "sms")].next_step == NextStep.RETRY
    assert history[("RELEASED", "sms")].next_at == retry_at and history[("RELEASED", "sms")].failed
    assert len(history) == 3 and not any(m.reached for m in history.values())
    assert {m.template for m in messages if not m.event_type} == {"verification_code", "registration_confirmed"}


def test_a_text_reply_confirms_the_call(agency: Agency) -> None:
    org = organisation("harbor", agency)
    subject = book(agency, "S-1")
    registration = register_victim(advocate("ada", org), org, subject, ContactIn("voice", "+1 202 555 0143"),
                                   pin="2580")
    released(agency, subject)
    call = Notification.objects.get(event__isnull=False)
    _hand_over(call)
    assert voice_confirm_by_reply(contacts=list(registration.registrant.contacts.all())) >= 1
    [message] = [m for m in registration_messages(registration=registration) if m.event_type]
    assert (message.reached, message.confirmed_by, message.next_step) == (True, "reply", NextStep.NONE)


def test_a_victim_who_shared_her_registration_is_in_the_caseload(agency: Agency) -> None:
    org = organisation("harbor", agency)
    user = advocate("ada", org)
    registration = start(agency)  # registered herself on the portal
    assert caseload(user=user, organisation=org) == []
    RegistrationShare.objects.create(registration=registration, organisation_code="harbor", reason=ShareReason.SHARED)
    [case] = caseload(user=user, organisation=org)
    assert (case.registration, case.reason, case.consent) == (registration, "shared", None)
    assert case.person is not None and case.person.name == "María José García Núñez"
