"""Every portal page is complete in Spanish: each string of its templates, forms and views has a Spanish
translation in the catalogues, and no English sentence of them is left on a page rendered in Spanish."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.locator.people import book
from tests.portal.mail import deliver, last_code
from tests.portal.test_api_manage import Registered, registered  # noqa: F401 - the fixture
from tests.portal.test_views import BY_A_NUMBER, ref_of, register_link
from tests.support.catalogue import english_fragments, english_left, msgids_of, sources, untranslated
from tests.support.smtp import SmtpServer
from vinex.custody.models import Agency

pytestmark = pytest.mark.django_db
SOURCES = sources("portal/templates/portal/*.html", "templates/*.html", "templates/*/*.html", "portal/forms.py",
                  "portal/views.py", "registrations/forms.py", "registrations/history.py", "registrations/services.py",
                  "registrations/outcomes.py", "locator/forms.py")
MSGIDS = [m for path in SOURCES for m in msgids_of(path)]
ENGLISH = english_fragments(MSGIDS)


def spanish() -> Client:
    return Client(headers={"Accept-Language": "es"})


def assert_spanish(response: object) -> None:
    page = response.content.decode()  # type: ignore[attr-defined]
    assert 'lang="es"' in page
    assert english_left(page, ENGLISH) == []


def test_every_portal_string_has_a_spanish_translation() -> None:
    assert "Messages we sent you" in {m.text for m in MSGIDS}
    assert [f"{m.where}: {m.text}" for m in untranslated(MSGIDS)] == []


def test_the_registration_pages_in_spanish_have_no_english_left(agency: Agency, smtp_settings: SmtpServer) -> None:
    book(agency, "S-1")
    browser = spanish()
    for url in ("/", "/search/", "/manage/", "/manage/?token=nonsense"):
        assert_spanish(browser.get(url))
    assert_spanish(browser.post("/search/", BY_A_NUMBER))
    link = register_link(browser)
    assert_spanish(browser.get(link))
    assert_spanish(browser.post("/register/", {"ref": ref_of(link), "language": "es", "email": "nope"}))
    started = browser.post("/register/", {"ref": ref_of(link), "language": "es", "email": "ana@example.org"})
    verify_url = started["Location"]
    assert_spanish(browser.get(verify_url))
    deliver()
    verification = re.search(r'name="verification" value="(\d+)"', browser.get(verify_url).content.decode())
    assert verification
    assert_spanish(browser.post(verify_url, {"verification": verification[1], "code": "000000",
                                             "action": "confirm"}))
    done = browser.post(verify_url, {"verification": verification[1], "action": "confirm",
                                     "code": last_code(smtp_settings, "ana@example.org")}, follow=True)
    assert_spanish(done)


def test_my_registrations_in_spanish_have_no_english_left(registered: Registered) -> None:  # noqa: F811
    browser = spanish()
    browser.get(f"/manage/?token={registered.token}")
    listing = browser.get("/manage/")
    assert_spanish(listing)
    page = re.search(r'href="(/manage/[0-9a-f-]+/)"', listing.content.decode())
    assert page
    assert_spanish(browser.get(page[1]))
    assert_spanish(browser.post(page[1], {"action": "add", "channel": "voice", "value": "+12025550143"}))
    assert_spanish(browser.post(page[1], {"action": "add", "channel": "email", "value": "b@example.org"}))
    assert_spanish(browser.post(page[1], {"action": "preferences", "language": "es", "call_preference": "gentle"}))
    withdraw = f"{page[1]}withdraw/"
    assert_spanish(browser.get(withdraw))
    assert_spanish(browser.post(withdraw))
