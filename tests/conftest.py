from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.actors import ACTOR
from tests.support.smtp import SmtpServer
from tests.support.twilio_fake import FakeTwilio, start_fake_twilio
from vinex.custody.models import Agency, Facility
from vinex.custody.services import apikey_create

T0 = datetime.fromisoformat("2026-11-20T10:00:00+00:00")


def event(event_id: str, type_: str, *, subject: str = "S-1", minutes: int = 0, facility: str = "main",
          **extra: Any) -> dict[str, Any]:
    """A custody event as an agency would post it."""
    return {
        "event_id": event_id,
        "type": type_,
        "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "facility_code": facility,
        "subject": {"agency_subject_id": subject, "first_name": "Robin", "last_name": "Quill"},
        **extra,
    }


@pytest.fixture(scope="session", autouse=True)
def _lock_files_removed() -> Iterator[None]:
    """The writers' lock files beside the test database (``<db>.write-turn`` and the like) go with it."""
    yield
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        name = Path(database["TEST"]["NAME"])
        for lock_file in name.parent.glob(f"{name.name}.*"):
            lock_file.unlink(missing_ok=True)


@pytest.fixture
def agency(db: None) -> Agency:
    agency = Agency.objects.create(
        code="pine", name="Pine County Sheriff", jurisdiction_code="US-XX-001",
        support_name="Pine Victim Services", support_phone="+1 555 010 0100",
    )
    Facility.objects.create(agency=agency, code="main", name="Pine County Jail", phone="+1 555 010 0101",
                            timezone="America/New_York")
    Facility.objects.create(agency=agency, code="annex", name="Pine Annex", timezone="America/New_York")
    return agency


@pytest.fixture
def other_agency(db: None) -> Agency:
    agency = Agency.objects.create(code="state", name="State Prisons", jurisdiction_code="US-XX")
    Facility.objects.create(agency=agency, code="north", name="North Prison", timezone="America/Chicago")
    return agency


@pytest.fixture
def api_token(agency: Agency) -> str:
    return apikey_create(actor=ACTOR, agency=agency)[1]


@pytest.fixture
def api(api_token: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {api_token}"})


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_settings(settings: Any, smtp: SmtpServer) -> SmtpServer:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    return smtp


CHROMIUM = "/usr/bin/chromium"
# No background traffic: the test machines have no internet, and Chromium's update and sync probes
# would otherwise fail (slowly) at every start.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread while it runs; the ORM calls the tests
    # (and the database teardown) make meanwhile are ordinary synchronous ones.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = start_fake_twilio()
    yield fake
    fake.close()


@pytest.fixture
def twilio_settings(settings: Any, fake_twilio: FakeTwilio) -> FakeTwilio:
    settings.VINEX_SMS_PROVIDER = "twilio"
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.TWILIO_AUTH_TOKEN = "test-auth-token"
    settings.TWILIO_FROM = "+15005550006"
    settings.TWILIO_API_URL = fake_twilio.url
    settings.VINEX_PUBLIC_URL = "https://vinex.example.org"
    return fake_twilio
