"""The call-centre console in a real browser (Debian's Chromium driven by Playwright): take a call
from the queue, find the person, register the caller with the code they read out, schedule a
callback and complete it. Screenshots of each step are kept under tests/artifacts/hotline/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.accounts.helpers import PASSWORD, add_device, code_for, make_staff
from tests.locator.people import book
from tests.portal.mail import deliver, last_code
from tests.support.smtp import SmtpServer
from vinex.accounts import matrix
from vinex.custody.models import Agency
from vinex.hotline.models import Callback, CallbackStatus, CallStatus, HotlineCall
from vinex.hotline.services import call_enqueue
from vinex.registrations.models import Registration, RegistrationStatus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "hotline"
EMAIL = "rosa@example.org"



class Shots:
    def __init__(self, page: Page) -> None:
        self.page, self.count = page, 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, step: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(ARTIFACTS / f"{self.count:02d}-{step}.png"), full_page=True)


def sign_in(page: Page, site: str) -> None:
    user = make_staff("kim", matrix.CALL_CENTRE, password=PASSWORD)
    device = add_device(user)
    page.goto(f"{site}/staff/login/")
    page.get_by_label("Username").fill("kim")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("One-time code").fill(code_for(device))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site}/staff/")


def test_take_a_call_register_the_caller_and_complete_a_callback(
        browser: Browser, live_server: Any, settings: Any, agency: Agency, smtp_settings: SmtpServer) -> None:
    settings.VINEX_PUBLIC_URL = live_server.url
    site = str(live_server.url)
    book(agency, "S-1")
    call_enqueue(call_sid="CA" + "c" * 32, language="es")
    page = browser.new_page(locale="en-US")
    shot = Shots(page)
    sign_in(page, site)

    page.goto(f"{site}/staff/hotline/")
    expect(page.get_by_role("heading", name="New calls to take")).to_be_visible()
    shot("queue")
    page.get_by_role("button", name="Take call #").click()
    expect(page.locator("h1")).to_have_text(f"Call #{HotlineCall.objects.get().pk}")

    intake = page.locator("#intake")
    intake.get_by_label("Caller's name (optional)").fill("Rosa")
    intake.get_by_label("Español").check()
    intake.get_by_label("Notes").fill("Prefers mornings.")
    intake.get_by_role("button", name="Save caller details").click()
    expect(page.locator("#id_intake-caller_name")).to_have_value("Rosa")
    shot("intake")

    page.locator("#id_a_number-a_number").fill("A123456789")
    page.locator("#id_a_number-country_of_birth").select_option("MX")
    page.locator("form", has=page.locator("#id_a_number-a_number")).get_by_role("button", name="Search").click()
    expect(page.locator("#results .result strong")).to_have_text("María José García Núñez")
    shot("search")
    page.get_by_role("button", name="Register the caller for María José García Núñez").click()
    register = page.locator("#register")
    register.get_by_label("Email address").fill(EMAIL)
    register.get_by_label("Español").check()
    shot("register")
    register.get_by_role("button", name="Register and send the codes").click()
    expect(page.locator("#registrations")).to_contain_text("r•••@example.org")

    deliver()
    page.locator("#registrations input[name=code]").fill(last_code(smtp_settings, EMAIL))
    page.get_by_role("button", name="Check the code").click()
    expect(page.locator("#code-message")).to_have_text("The code is right and the registration is active.")
    shot("verified")
    assert Registration.objects.get().status == RegistrationStatus.ACTIVE

    callbacks = page.locator("#callbacks")
    callbacks.get_by_label("Call back at (the caller's local time)").fill("2026-12-01T09:30")
    callbacks.get_by_label("Caller's time zone").select_option("America/Chicago")
    callbacks.get_by_label("Number to call").fill("(312) 555-0188")
    callbacks.get_by_role("button", name="Schedule the callback").click()
    expect(callbacks).to_contain_text("2026-12-01 09:30 America/Chicago")
    shot("callback-scheduled")
    page.locator("#end").get_by_label("Outcome of the call").select_option("registered")
    page.get_by_role("button", name="Record the outcome and end the call").click()
    page.wait_for_url(f"{site}/staff/hotline/")
    assert HotlineCall.objects.get().status == CallStatus.CLOSED
    expect(page.get_by_text("You have no open call.")).to_be_visible()
    shot("queue-with-callback")

    page.get_by_role("link", name="Callback #").click()
    expect(page.locator("#callback-number")).to_have_text("+13125550188")
    page.get_by_label("Reached the caller").check()
    page.get_by_label("Notes").fill("Confirmed the registration.")
    shot("callback")
    page.get_by_role("button", name="Record the callback").click()
    page.wait_for_url(f"{site}/staff/hotline/")
    expect(page.get_by_text("No callback is scheduled.")).to_be_visible()
    shot("queue-done")
    assert Callback.objects.get().status == CallbackStatus.DONE
