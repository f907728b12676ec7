"""The registrant's own controls on the portal ("My registrations"), without JavaScript, in English and
Spanish: how she is told, her contacts (added with a code, removed at once), the messages sent to her."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.portal.mail import deliver, last_code
from tests.portal.test_api_manage import SECOND, Registered, registered  # noqa: F401 - the fixture
from tests.portal.test_views import text
from tests.support.smtp import SmtpServer
from vinex.audit.models import AuditEntry
from vinex.notify.models import CallPreference, Contact, Registrant

pytestmark = pytest.mark.django_db


def open_registration(done: Registered, language: str = "en") -> tuple[Client, str]:
    browser = Client(headers={"Accept-Language": language})
    assert browser.get(f"/manage/?token={done.token}").status_code == 302
    found = re.search(r'href="(/manage/[0-9a-f-]+/)"', browser.get("/manage/").content.decode())
    assert found, "no link to the registration's page"
    return browser, found[1]


def test_she_sees_her_messages_and_changes_how_she_is_told(registered: Registered) -> None:  # noqa: F811
    browser, url = open_registration(registered)
    page = text(browser.get(url))
    assert "Updates about María José García Núñez" in page and "a•••@example.org" in page
    assert "Registration confirmed" in page and "Your one-time code" in page and "Sent" in page
    saved = browser.post(url, {"action": "preferences", "language": "en", "call_preference": "gentle"})
    assert saved.status_code == 200 and "Your choices are saved." in text(saved)
    assert Registrant.objects.get().call_preference == CallPreference.GENTLE
    assert AuditEntry.objects.filter(action="change_call_preference", object_id=registered.id).exists()
    assert Client().get(url).status_code == 404  # another browser, without the manage link


def test_she_adds_a_contact_with_its_code_and_removes_the_old_one(registered: Registered,  # noqa: F811
                                                                  smtp_settings: SmtpServer) -> None:
    browser, url = open_registration(registered)
    added = browser.post(url, {"action": "add", "channel": "email", "value": SECOND})
    assert added.status_code == 200 and "waiting for its code" in text(added)
    deliver()
    new = Contact.objects.get(verified_at__isnull=True)
    verification_id = new.verification.pk
    wrong = browser.post(url, {"action": "code", "verification": verification_id, "code": "000000"})
    assert wrong.status_code == 422 and "That code is not right" in text(wrong)
    right = browser.post(url, {"action": "code", "verification": verification_id,
                               "code": last_code(smtp_settings, SECOND)})
    assert "Confirmed. Messages now go to this contact too." in text(right)
    old = Contact.objects.get(verified_at__isnull=False, pk__lt=new.pk).verification.pk
    removed = browser.post(url, {"action": "remove", "verification": old})
    assert "That contact is removed" in text(removed)
    last = browser.post(url, {"action": "remove", "verification": verification_id})
    assert last.status_code == 422 and "This is your only contact" in text(last)


def test_bad_input_is_explained_next_to_the_field(registered: Registered) -> None:  # noqa: F811
    browser, url = open_registration(registered)
    bad = browser.post(url, {"action": "add", "channel": "voice", "value": "+12025550143"})
    assert bad.status_code == 422 and "Choose a 4-digit PIN" in text(bad)
    bad = browser.post(url, {"action": "add", "channel": "fax", "value": "x"})
    assert bad.status_code == 422 and "Choose email, text message or phone call." in text(bad)
    assert Contact.objects.count() == 1


def test_the_page_is_in_spanish(registered: Registered) -> None:  # noqa: F811
    browser, url = open_registration(registered, "es")
    page = text(browser.get(url))
    assert "Cómo le avisamos" in page and "Mensajes que le enviamos" in page and "Registro confirmado" in page
    saved = browser.post(url, {"action": "preferences", "language": "es", "call_preference": "none"})
    assert "Se guardaron sus preferencias." in text(saved)
