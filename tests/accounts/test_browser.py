"""A real browser: first sign-in, enrolment with the key shown on the page, then a code sign-in."""

from __future__ import annotations

import base64
from pathlib import Path

from django_otp.oath import totp
from playwright.sync_api import Page, sync_playwright

from tests.accounts.helpers import PASSWORD, make_staff
from vinex.accounts import matrix

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")


def _code(secret: str, *, steps_ahead: int = 0) -> str:
    return f"{totp(base64.b32decode(secret), drift=steps_ahead):06d}"


def _sign_in(page: Page, base: str, code: str = "") -> None:
    page.goto(f"{base}/staff/login/")
    page.get_by_label("Username").fill("casey")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("One-time code").fill(code)
    page.get_by_role("button", name="Sign in").click()


def test_first_sign_in_and_enrolment_in_a_browser(live_server, transactional_db: None) -> None:
    make_staff("casey", matrix.ADMINISTRATOR, password=PASSWORD)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--headless=new",
                                                                           "--disable-gpu"])
        page = browser.new_page()
        _sign_in(page, live_server.url)
        page.wait_for_url("**/staff/enrol/**")
        assert page.locator("figure svg").is_visible()
        page.screenshot(path=str(ARTIFACTS / "accounts-enrol.png"), full_page=True)
        secret = page.locator("#totp-secret").inner_text()
        page.get_by_label("Code from the app").fill(_code(secret))
        page.get_by_role("button", name="Confirm").click()
        page.wait_for_url(f"{live_server.url}/staff/")
        assert page.get_by_role("link", name="Administration").is_visible()
        page.screenshot(path=str(ARTIFACTS / "accounts-home.png"), full_page=True)

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/staff/login/")
        _sign_in(page, live_server.url, code=_code(secret, steps_ahead=1))
        page.wait_for_url(f"{live_server.url}/staff/")
        assert "Staff home" in page.title()
        browser.close()
