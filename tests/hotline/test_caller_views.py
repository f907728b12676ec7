"""The call centre helps a caller with her existing registration: found by phone number or email through
the blind index, her messages and what became of them, the last one resent, her choices changed or her
registration withdrawn on her behalf, each audited with the agent and a reason."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.test import Client

from tests.accounts.helpers import staff_client
from tests.portal.mail import deliver, messages_to
from tests.portal.test_api import EMAIL, release_event
from tests.portal.test_api_manage import Registered, registered  # noqa: F401 - the fixture
from tests.support.smtp import SmtpServer
from vinex.accounts import matrix
from vinex.audit.models import AuditEntry
from vinex.notify.models import CallPreference, Registrant
from vinex.registrations.models import Registration, RegistrationStatus

pytestmark = pytest.mark.django_db


def text(response: Any) -> str:
    return " ".join(html.unescape(response.content.decode()).split())


@pytest.fixture
def console() -> Client:
    return staff_client("kim", matrix.CALL_CENTRE)[0]


def found_page(console: Client, value: str = " Ana.Victim@EXAMPLE.org ", reason: str = "caller asked") -> str:
    response = console.post("/staff/hotline/callers/", {"value": value, "reason": reason})
    assert response.status_code == 200, text(response)
    link = re.search(r'href="(/staff/hotline/callers/[0-9a-f-]+/)"', response.content.decode())
    assert link, text(response)
    return link[1]


def test_only_the_call_centre_may_look_callers_up(registered: Registered) -> None:  # noqa: F811
    auditor = staff_client("ana", matrix.AUDITOR)[0]
    assert auditor.post("/staff/hotline/callers/", {"value": EMAIL, "reason": "x"}).status_code == 403
    assert Client().get("/staff/hotline/callers/").status_code in (302, 403)


def test_a_look_up_needs_a_reason_and_is_audited_with_it(registered: Registered, console: Client) -> None:  # noqa: F811
    refused = console.post("/staff/hotline/callers/", {"value": EMAIL, "reason": ""})
    assert refused.status_code == 422 and "Give a reason" in text(refused)
    found_page(console, reason="caller lost her confirmation")
    entry = AuditEntry.objects.get(action="read", object_type="registration", object_id=registered.id)
    assert entry.purpose == "caller lookup: caller lost her confirmation" and entry.role == "call_centre"


def test_nothing_is_found_for_another_value_and_a_bad_value_is_explained(registered: Registered,  # noqa: F811
                                                                         console: Client) -> None:
    none = console.post("/staff/hotline/callers/", {"value": "other@example.org", "reason": "caller asked"})
    assert "No registration uses this phone number" in text(none)
    bad = console.post("/staff/hotline/callers/", {"value": "12", "reason": "caller asked"})
    assert bad.status_code == 422 and "Enter a phone number with its area code" in text(bad)


def test_the_agent_sees_messages_and_resends_the_last_one(registered: Registered, console: Client,  # noqa: F811
                                                          smtp_settings: SmtpServer) -> None:
    release_event(registered.subject)
    deliver()
    page_url = found_page(console)
    assert Client().get(page_url).status_code in (302, 403)
    page = text(console.get(page_url))
    assert "Custody update: released" in page and "Registration confirmed" in page and "a•••@example.org" in page
    assert EMAIL not in page
    assert AuditEntry.objects.filter(action="read", object_type="notification",
                                     purpose="call centre: caller asked").exists()
    missing = console.post(page_url + "act", {"action": "resend", "reason": ""})
    assert missing.status_code == 422
    before = len(messages_to(smtp_settings, EMAIL))
    resent = console.post(page_url + "act", {"action": "resend", "reason": "caller deleted the email"}, follow=True)
    assert "The last message is on its way again." in text(resent)
    deliver()
    again = messages_to(smtp_settings, EMAIL)[before:]
    assert [m["Subject"] for m in again] == ["Custody update: released"]
    entry = AuditEntry.objects.get(action="resend_message")
    assert entry.purpose == "caller deleted the email" and entry.role == "call_centre"


def test_the_agent_changes_choices_and_withdraws_with_a_reason(registered: Registered,  # noqa: F811
                                                               console: Client) -> None:
    page_url = found_page(console)
    changed = console.post(page_url + "act", {"action": "preferences", "language": "es", "call_preference": "none",
                                              "reason": "caller asked for no calls"}, follow=True)
    assert "The caller's choices are saved." in text(changed)
    registrant = Registrant.objects.get()
    assert (registrant.language, registrant.call_preference) == ("es", CallPreference.NONE)
    assert AuditEntry.objects.get(action="change_call_preference").purpose == "caller asked for no calls"
    console.post(page_url + "act", {"action": "withdraw", "reason": "caller is safe now"})
    assert Registration.objects.get().status == RegistrationStatus.WITHDRAWN
    entry = AuditEntry.objects.get(action="withdraw")
    assert entry.purpose == "caller is safe now" and entry.role == "call_centre"


def test_a_registration_not_looked_up_in_this_session_is_not_shown(registered: Registered,  # noqa: F811
                                                                   console: Client) -> None:
    assert console.get(f"/staff/hotline/callers/{registered.id}/").status_code == 404
    assert console.post(f"/staff/hotline/callers/{registered.id}/act",
                        {"action": "withdraw", "reason": "x"}).status_code == 404
