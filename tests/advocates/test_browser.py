"""An advocate in a real browser (Debian's Chromium driven by Playwright): she signs in with her one-time
code, registers a victim with her consent, enters the codes the victim reads out to her, and after a release
posted over the event API sees that the email was delivered and that the unconfirmed call was escalated.

The site runs on pytest-django's live server; messages go through the real worker to a real SMTP server
(aiosmtpd); calls go to the development voice channel, where nobody keys a PIN.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from tests.accounts.helpers import PASSWORD, add_device, code_for, make_staff
from tests.actors import ACTOR
from tests.advocates.helpers import organisation, sent_code
from tests.locator.people import book
from tests.portal.mail import deliver, last_code, messages_to
from tests.support.smtp import SmtpServer, body_text
from vinex.accounts import matrix
from vinex.advocates.jobs import escalate
from vinex.advocates.services import membership_set
from vinex.custody.models import Agency
from vinex.registrations.models import Registration, RegistrationStatus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "advocates"
VICTIM_EMAIL = "vic@example.org"
ADVOCATE_EMAIL = "ada@advocates.example.org"


@pytest.fixture
def site(browser: Browser, live_server: Any, settings: Any, smtp_settings: SmtpServer) -> str:
    settings.VINEX_PUBLIC_URL = live_server.url
    settings.VINEX_ESCALATION_MINUTES = 1  # shortened from 30 for the test
    return str(live_server.url)


class Shots:
    def __init__(self, page: Page) -> None:
        self.page, self.count = page, 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, step: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(ARTIFACTS / f"{self.count:02d}-{step}.png"), full_page=True)


def post_release(site: str, token: str) -> None:
    event = {
        "event_id": "rel-1", "type": "RELEASED", "reason": "bond", "facility_code": "main",
        "occurred_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
        "subject": {"agency_subject_id": "S-1", "first_name": "María José", "last_name": "García Núñez"},
    }
    response = requests.post(f"{site}/api/v1/custody-events", json={"events": [event]}, timeout=10,
                             headers={"Authorization": f"Bearer {token}"})
    assert response.json()["accepted"] == 1, response.text


def sign_in(page: Page, site: str, code: str) -> None:
    page.goto(f"{site}/staff/advocate/register/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("One-time code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/advocate/register/")


def register_with_consent(page: Page, shot: Shots) -> None:
    page.locator("#id_a_number-a_number").fill("A-123-456-789")
    page.locator("#id_a_number-country_of_birth").select_option("MX")
    page.get_by_role("button", name="Search").first.click()
    expect(page.locator("#results strong")).to_have_text("María José García Núñez")
    shot("search")
    page.get_by_role("button", name="Register a victim of María José García Núñez").click()
    expect(page.locator("#consent-text")).to_contain_text("I agree that my advocate registers me")
    page.get_by_label("Her email address").fill(VICTIM_EMAIL)
    page.get_by_label("Her phone number for calls").fill("+1 202 555 0143")
    page.get_by_label("PIN for phone calls").fill("2580")
    page.get_by_label("In person").check()
    page.get_by_label("I read the consent text above to her").check()
    shot("consent")
    page.get_by_role("button", name="Register her and send the codes").click()
    expect(page.locator("h1")).to_have_text("María José García Núñez")


def enter_codes(page: Page, smtp: SmtpServer, shot: Shots) -> None:
    """She reads out the code from her email and the one the call spoke; the advocate types them in."""
    deliver()
    registration = Registration.objects.get()
    shot("codes")
    for verification in registration.verifications.select_related("contact").order_by("id"):
        code = last_code(smtp, VICTIM_EMAIL) if verification.contact.channel == "email" else sent_code(verification)
        page.locator(f"#code-{verification.pk}").fill(code)
        page.locator("form", has=page.locator(f"#code-{verification.pk}")).get_by_role(
            "button", name="Check the code").click()
        expect(page.locator("#code-message")).to_contain_text("The code is right")
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.ACTIVE


def test_an_advocate_registers_a_victim_and_sees_whether_the_release_reached_her(
    browser: Browser, site: str, agency: Agency, api_token: str, smtp_settings: SmtpServer
) -> None:
    book(agency, "S-1")
    user = make_staff("ada", matrix.ADVOCATE, password=PASSWORD)
    device = add_device(user)
    membership_set(user=user, organisation=organisation("harbor", agency), alert_email=ADVOCATE_EMAIL, actor=ACTOR)
    page = browser.new_page(locale="en-US")
    shot = Shots(page)

    sign_in(page, site, code_for(device))
    register_with_consent(page, shot)
    enter_codes(page, smtp_settings, shot)
    deliver()  # the welcome with her manage link

    post_release(site, api_token)
    deliver()
    assert any("released" in body_text(m) for m in messages_to(smtp_settings, VICTIM_EMAIL))
    page.goto(f"{site}/staff/advocate/")
    release_email = page.locator("tr.message[data-event=RELEASED][data-channel=email]")
    expect(release_email.locator(".outcome")).to_contain_text("delivered")
    release_call = page.locator("tr.message[data-event=RELEASED][data-channel=voice]")
    expect(release_call.locator(".next")).to_contain_text("waiting for her PIN or a text reply")
    shot("caseload-after-release")

    escalate(now=timezone.now())  # within the minute: too early
    deliver()
    assert messages_to(smtp_settings, ADVOCATE_EMAIL) == []
    escalate(now=timezone.now() + timedelta(minutes=1, seconds=5))
    deliver()
    [alert] = messages_to(smtp_settings, ADVOCATE_EMAIL)
    assert alert["Subject"] == "A victim you serve was not reached"
    case_url = f"/staff/advocate/cases/{Registration.objects.get().public_id}/"
    assert case_url in body_text(alert)

    page.get_by_role("link", name="Not reached").click()
    expect(page.locator(".case h2")).to_have_text("María José García Núñez")
    expect(release_call.locator(".next")).to_contain_text("Advocates alerted at")
    expect(release_email.locator(".outcome")).to_contain_text("delivered")
    expect(page.locator(".case .escalated").first).to_be_visible()
    shot("caseload-not-reached")
    page.goto(site + case_url)
    expect(page.locator("h1")).to_have_text("María José García Núñez")
    shot("case")
