"""The victim's "My registrations" page, the call centre's caller page, the advocate's case page and the API
tell the same story of the same messages: one history, one rule for "reached", one status per message."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.accounts.helpers import staff_client
from tests.actors import ACTOR
from tests.advocates.helpers import advocate_client, organisation, sent_code
from tests.hotline.test_caller_views import found_page
from tests.notify.test_voice import Call
from tests.notify.test_webhooks import receipt_to_callback
from tests.portal.mail import deliver
from tests.portal.test_api import release_event
from tests.portal.test_api_manage import Registered, registered  # noqa: F401 - the fixture
from tests.portal.test_manage_pages import open_registration
from tests.support.smtp import SmtpServer
from tests.support.twilio_fake import FakeTwilio
from vinex.accounts import matrix
from vinex.custody.models import Agency
from vinex.notify.models import CallPreference, Notification
from vinex.registrations.models import Registration, RegistrationShare, ShareReason
from vinex.registrations.services import registration_contact_add, registration_preferences_update, verification_check

pytestmark = pytest.mark.django_db
ROW = re.compile(r'<tr class="message (reached|not-reached)" data-message="(\d+)" data-outcome="(\w+)".*?'
                 r'<span class="status">(.*?)</span>', re.S)


def rows(response: Any) -> dict[int, tuple[str, bool, str]]:
    """Message id -> (outcome, reached, the status words shown) of every message row on a page."""
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    return {int(m[2]): (m[3], m[1] == "reached", " ".join(m[4].split())) for m in ROW.finditer(page)}


def add_contact(registration: Registration, channel: str, value: str, pin: str = "") -> None:
    verification = registration_contact_add(registration=registration, channel=channel, value=value, pin=pin,
                                            actor=ACTOR)
    deliver()
    verification_check(verification=verification, code=sent_code(verification), actor=ACTOR)


def release_reached_by_email_not_by_call_then_by_a_retried_text(registered: Registered,  # noqa: F811
                                                                twilio: FakeTwilio) -> dict[str, Notification]:
    """An email delivered to her mail server; one call (she chose gentle calls) that was not confirmed and
    fell back to a text; that text failed once at the provider, was sent again and delivered."""
    registration = Registration.objects.get(public_id=registered.id)
    add_contact(registration, "voice", "+1 202 555 0143", pin="4821")
    registration_preferences_update(registration=registration, call_preference=CallPreference.GENTLE, actor=ACTOR)
    release_event(registered.subject)
    deliver()
    add_contact(registration, "sms", "+1 202 555 0144")  # after the release: only a fallback reaches it
    call = twilio.calls[-1]
    Call(Client(), call).end("no-answer")
    text = Notification.objects.get(template="event/RELEASED", channel="sms")
    twilio.fail_next = 1
    deliver()
    Notification.objects.filter(pk=text.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    deliver()
    receipt_to_callback(Client(), twilio.messages[-1], {"MessageStatus": "delivered"})
    return {n.channel: n for n in Notification.objects.filter(template="event/RELEASED")}


def test_victim_call_centre_and_advocate_pages_show_the_same_status_for_each_message(
        agency: Agency, registered: Registered, smtp_settings: SmtpServer,  # noqa: F811
        twilio_settings: FakeTwilio) -> None:
    release = release_reached_by_email_not_by_call_then_by_a_retried_text(registered, twilio_settings)
    assert release["sms"].attempts == 2

    browser, url = open_registration(registered)
    victim = rows(browser.get(url))
    console = staff_client("kim", matrix.CALL_CENTRE)[0]
    call_centre = rows(console.get(found_page(console)))
    org = organisation("harbor", agency)
    RegistrationShare.objects.create(registration=Registration.objects.get(public_id=registered.id),
                                     organisation_code="harbor", reason=ShareReason.SHARED)
    advocate = rows(advocate_client("ada", org)[0].get(f"/staff/advocate/cases/{registered.id}/"))
    api = {m["event_type"] + m["channel"]: m for m in registered.call("get", "/notifications").json()["notifications"]}

    assert set(victim) == set(call_centre) == set(advocate) and len(victim) >= 5  # codes and welcome too
    for pages in zip(victim.values(), call_centre.values(), advocate.values(), strict=True):
        assert len({(outcome, reached) for outcome, reached, _words in pages}) == 1, pages
    email, voice, sms = (release[c].pk for c in ("email", "voice", "sms"))
    assert victim[email] == call_centre[email] == ("accepted", True, "Sent: delivered to your email server")
    assert advocate[email] == ("accepted", True, "Sent: delivered to her email server")
    assert (victim[voice] == call_centre[voice] == advocate[voice]
            == ("fell_back", False, "Calls not confirmed; sent in writing instead"))
    assert victim[sms] == call_centre[sms] == advocate[sms] == ("delivered", True, "Delivered")
    assert [(api[k]["reached"], len(api[k]["attempts"])) for k in ("RELEASEDemail", "RELEASEDvoice", "RELEASEDsms")
            ] == [(True, 1), (False, 1), (True, 2)]
