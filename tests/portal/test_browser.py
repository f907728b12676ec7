"""A person uses the portal in a real browser (Debian's Chromium driven by Playwright).

The site runs on pytest-django's live server, messages go through the real worker to a real SMTP
server (aiosmtpd), and events arrive over the real event API. Screenshots of each step are kept
under tests/artifacts/portal/ for people reviewing changes to the pages.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from tests.locator.people import book
from tests.portal.mail import deliver, last_code, manage_token, messages_to
from tests.support.smtp import SmtpServer, body_text
from vinex.custody.models import Agency
from vinex.privacy.models import DataReport

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "portal"



@pytest.fixture
def site(browser: Browser, live_server: Any, settings: Any, smtp_settings: SmtpServer) -> str:
    settings.VINEX_PUBLIC_URL = live_server.url
    return str(live_server.url)


class Shots:
    def __init__(self, page: Page, name: str) -> None:
        self.page, self.folder, self.count = page, ARTIFACTS / name, 0
        self.folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, step: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(self.folder / f"{self.count:02d}-{step}.png"), full_page=True)


def post_release(site: str, token: str, event_id: str) -> None:
    event = {
        "event_id": event_id, "type": "RELEASED", "reason": "bond", "facility_code": "main",
        "occurred_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
        "subject": {"agency_subject_id": "S-1", "first_name": "María José", "last_name": "García Núñez"},
    }
    response = requests.post(f"{site}/api/v1/custody-events", json={"events": [event]}, timeout=10,
                             headers={"Authorization": f"Bearer {token}"})
    assert response.json()["accepted"] == 1, response.text


def find_and_register(page: Page, site: str, shot: Shots, email: str) -> None:
    """Search by A-number, open the registration form from the result, and ask for a code."""
    page.goto(site + "/")
    shot("home")
    page.get_by_role("navigation").get_by_role("link").first.click()
    page.locator("#id_a_number-a_number").fill("A-123-456-789")
    page.locator("#id_a_number-country_of_birth").select_option("MX")
    page.locator("form", has=page.locator("#id_a_number-a_number")).get_by_role("button").click()
    expect(page.locator("#results h3")).to_have_text("María José García Núñez")
    shot("results")
    page.locator("#results a.button").click()
    page.locator("#id_email").fill(email)
    shot("register")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("h1")).to_be_visible()


def confirm_code(page: Page, smtp: SmtpServer, shot: Shots, email: str) -> None:
    deliver()
    page.locator("input[name=code]").fill(last_code(smtp, email))
    shot("verify")
    page.locator("button[value=confirm]").click()


def test_a_person_searches_in_spanish_registers_and_hears_of_the_release(
    browser: Browser, site: str, agency: Agency, api_token: str, smtp_settings: SmtpServer
) -> None:
    book(agency, "S-1")
    email = "lucia@example.org"
    page = browser.new_page(locale="es-MX", extra_http_headers={"Accept-Language": "es-MX,es;q=0.9"})
    shot = Shots(page, "register-in-spanish")
    page.goto(site + "/search/")
    page.locator("#id_name-last_name").fill("García")
    page.locator("form", has=page.locator("#id_name-last_name")).get_by_role("button").click()
    expect(page.locator("#id_name-first_name_error")).to_have_text("Escriba el nombre, tal como está escrito.")
    shot("search-error")
    find_and_register(page, site, shot, email)
    expect(page.locator("h1")).to_have_text("Escriba sus códigos")
    deliver()
    assert "Su código de vinex es" in body_text(messages_to(smtp_settings, email)[0])
    confirm_code(page, smtp_settings, shot, email)
    expect(page.locator("h1")).to_have_text("Ya está registrado")
    shot("registered")

    deliver()
    before = len(messages_to(smtp_settings, email))
    post_release(site, api_token, "rel-1")
    deliver()
    [released] = messages_to(smtp_settings, email)[before:]
    assert released["Subject"] == "Aviso de custodia: puesta en libertad"
    assert "María José García Núñez fue puesto en libertad de Pine County Jail" in body_text(released)


def test_a_person_who_withdraws_hears_nothing_further(
    browser: Browser, site: str, agency: Agency, api_token: str, smtp_settings: SmtpServer
) -> None:
    book(agency, "S-1")
    email = "sam@example.org"
    page = browser.new_page(locale="en-US")
    shot = Shots(page, "withdraw")
    find_and_register(page, site, shot, email)
    confirm_code(page, smtp_settings, shot, email)
    expect(page.locator("h1")).to_have_text("You are registered")

    deliver()
    page.goto(f"{site}/manage/?token={manage_token(smtp_settings, email)}")
    expect(page).to_have_url(re.compile(r"/manage/$"))
    expect(page.locator("main h2")).to_have_text("María José García Núñez")
    shot("manage")
    page.get_by_role("link", name="Stop updates").click()
    shot("withdraw-confirm")
    page.get_by_role("button", name="Stop updates").click()
    expect(page.locator("h1")).to_have_text("Updates stopped")
    shot("withdrawn")

    received = len(messages_to(smtp_settings, email))
    post_release(site, api_token, "rel-2")
    deliver()
    assert len(messages_to(smtp_settings, email)) == received


def test_a_person_reports_wrong_information_from_a_search_result(
    browser: Browser, site: str, agency: Agency
) -> None:
    book(agency, "S-1")
    page = browser.new_page(locale="en-US")
    shot = Shots(page, "report")
    page.goto(site + "/search/")
    page.locator("#id_a_number-a_number").fill("A-123-456-789")
    page.locator("#id_a_number-country_of_birth").select_option("MX")
    page.locator("form", has=page.locator("#id_a_number-a_number")).get_by_role("button").click()
    page.get_by_role("link", name="Is this information wrong? Report it").click()
    expect(page.locator("main .card")).to_contain_text("María José García Núñez")
    page.get_by_role("button", name="Send the report").click()  # nothing chosen yet
    expect(page.locator(".summary")).to_be_visible()
    shot("errors")
    page.get_by_label("The facility is wrong").check()
    page.get_by_label("Tell us more").fill("She was moved to the state prison last week.")
    shot("filled")
    page.get_by_role("button", name="Send the report").click()

    expect(page.locator("h1")).to_have_text("Report received")
    shot("sent")
    report = DataReport.objects.get()
    assert (report.topic, report.details) == ("facility", "She was moved to the state prison last week.")
