"""No personal data in the logs: the flows that handle it run for real while every log record is captured
at DEBUG, through the project's own console handler (its personal-data filter and JSON formatter), and
the output is scanned for each seeded name, address and number.

Only the SQL log, which settings deliberately hold at WARNING (its records carry parameter values),
stays there; the scan asserts that hold, and a control test shows the scan catching what it holds back.
"""

from __future__ import annotations

import html
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from twilio.request_validator import RequestValidator

from tests.accounts.helpers import staff_client
from tests.conftest import event
from tests.factories import subscribe
from tests.support.smtp import SmtpServer, body_text
from tests.support.twilio_fake import INVALID_NUMBER, FakeTwilio
from vinex.accounts import matrix
from vinex.custody.models import Agency
from vinex.notify.channels import channels_build
from vinex.notify.channels.email import EmailChannel
from vinex.notify.models import Notification
from vinex.notify.worker import Worker
from vinex.policy.logfilter import PersonalDataFilter
from vinex.registrations.models import Registration

pytestmark = pytest.mark.django_db

SUBJECT = {"first_name": "Wilhelmina", "last_name": "Strzelecki-Oyelaran", "agency_subject_id": "JMS-99173",
           "date_of_birth": "1979-03-14", "country_of_birth": "MX"}
A_NUMBER, BOOKING_NUMBER = "A246-813-579", "BK-77-31415"
PORTAL_EMAIL, PORTAL_SMS, PORTAL_CASE = "ottoline.vance@example.org", "+1 (202) 555-0171", "CR-2026-0099187"
API_EMAIL, API_CASE = "percival.okonkwo@example.org", "CR-2026-0055321"
CALLER_NAME, CALLER_EMAIL, CALLER_CASE = "Rosalind Featherstonehaugh", "bartholomew.quist@example.org", "HC-4471-2026"
CALLBACK_PHONE, SMS_NUMBER = "(202) 555-0186", "+12025550164"

# Each seeded value in the forms it was typed in and the forms vinex stores it in; matched ignoring case.
SEEDED = {
    "subject first name": "Wilhelmina", "subject last name": "Strzelecki", "subject id": "JMS-99173",
    "date of birth": "1979-03-14", "a-number": "246813579", "a-number as typed": A_NUMBER,
    "booking number": BOOKING_NUMBER, "portal email": PORTAL_EMAIL, "portal sms": "2025550171",
    "portal sms as typed": "555-0171", "portal case number": PORTAL_CASE, "api email": API_EMAIL,
    "api case number": API_CASE, "caller name": CALLER_NAME, "caller first name": "Rosalind",
    "caller email": CALLER_EMAIL, "caller case number": CALLER_CASE, "callback phone": "2025550186",
    "callback phone as typed": "555-0186", "sms registrant": "2025550164", "invalid number": "5005550001",
    "intake notes": "prefers mornings after nine", "inbound text": "cousin of the woman in cell",
}
# Settings hold SQL logging at WARNING: its DEBUG records carry the statements' parameters (names, dates of
# birth). The scan keeps that hold and asserts it; a control shows what it holds back.
HELD_BACK = ("django.db.backends",)
# The test's own SMTP server (aiosmtpd) logs the mail it receives; it stands in for the recipient's mail
# server and is not part of vinex, so its records are kept out of the capture.
TEST_DOUBLES = ("mail.log",)


@dataclass
class LogCapture:
    stream: io.StringIO

    def entries(self) -> list[dict[str, Any]]:
        """Every line written, parsed: each must be one JSON object (the project's formatter)."""
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]

    def leaks(self, seeded: dict[str, str]) -> list[str]:
        # Both the raw lines and the decoded ones: JSON escapes non-ASCII, which would hide an accented name.
        decoded = "\n".join(json.dumps(e, ensure_ascii=False) for e in self.entries())
        text = f"{self.stream.getvalue()}\n{decoded}".lower()
        return [label for label, value in seeded.items() if value.lower() in text]

    def offending(self, seeded: dict[str, str]) -> list[str]:
        """Where each leak is (logger and message of the entries holding it), for the failure message."""
        values = [v.lower() for v in seeded.values()]
        return [f"{e.get('logger')}: {str(e.get('message'))[:80]}" for e in self.entries()
                if any(v in json.dumps(e, ensure_ascii=False).lower() for v in values)]

    def saw(self, logger: str, message: str) -> list[dict[str, Any]]:
        return [e for e in self.entries()
                if e.get("logger") == logger and str(e.get("message", "")).startswith(message)]


def held_back(name: str) -> bool:
    return any(name == held or name.startswith(f"{held}.") for held in HELD_BACK)


@pytest.fixture
def captured() -> Iterator[LogCapture]:
    """The configured console handler, writing to memory, with every logger opened to DEBUG."""
    [console] = [h for h in logging.root.handlers if h.get_name() == "console"]
    assert isinstance(console, logging.StreamHandler)
    stream = io.StringIO()
    previous_stream = console.setStream(stream)
    loggers = [logging.root, *(lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    levels = {lg: lg.level for lg in loggers}
    quiet = [lg for lg in loggers if not lg.propagate and lg not in (logging.root,)]
    for lg in loggers:
        if not held_back(lg.name):
            lg.setLevel(logging.DEBUG)
    for name in TEST_DOUBLES:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        levels.setdefault(logging.getLogger(name), logging.NOTSET)
    for lg in quiet:  # loggers that do not pass records up to the root get the handler directly
        lg.addHandler(console)
    try:
        yield LogCapture(stream)
    finally:
        for lg in quiet:
            lg.removeHandler(console)
        for lg, level in levels.items():
            lg.setLevel(level)
        console.setStream(previous_stream)


def assert_values_are_held_back() -> None:
    assert set(HELD_BACK) <= set(cast(dict[str, Any], django_settings.LOGGING["loggers"]))
    for name in HELD_BACK:
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING, name


# --- The flows ------------------------------------------------------------------------------------


def post_events(api: Client, *events: dict[str, Any]) -> Any:
    return api.post("/api/v1/custody-events", data=json.dumps({"events": list(events)}),
                    content_type="application/json")


def booked(event_id: str, type_: str = "BOOKED", **extra: Any) -> dict[str, Any]:
    subject = {**SUBJECT, "identifiers": {"a_number": A_NUMBER, "booking_number": BOOKING_NUMBER}}
    return {**event(event_id, type_, subject=SUBJECT["agency_subject_id"], **extra), "subject": subject}


def ingest_via_api(api: Client) -> None:
    ok = post_events(api, booked("log-b1", occurred_at="2026-11-01T10:00:00+00:00"))
    assert ok.status_code == 200 and ok.json()["accepted"] == 1, ok.content
    # An item the API refuses (an unknown facility), and a batch it cannot parse at all.
    assert post_events(api, booked("log-x1", facility="nowhere")).json()["rejected"] == 1
    malformed = api.post("/api/v1/custody-events", data=json.dumps({"events": SUBJECT["last_name"]}),
                         content_type="application/json")
    assert malformed.status_code == 422


def locator_searches() -> None:
    client = Client()
    by_name = {"first_name": SUBJECT["first_name"], "last_name": SUBJECT["last_name"], "country_of_birth": "MX"}
    assert client.get("/api/v1/locator", by_name).json()["results"]
    assert client.get("/api/v1/locator", {"a_number": A_NUMBER, "country_of_birth": "MX"}).json()["results"]
    assert client.get("/api/v1/locator", {**by_name, "date_of_birth": "14/03/1979"}).status_code == 422
    page = client.post("/search/", {"kind": "name", "name-first_name": SUBJECT["first_name"],
                                    "name-last_name": SUBJECT["last_name"], "name-country_of_birth": "MX"})
    assert SUBJECT["last_name"] in page.content.decode()


def codes_by_sms(twilio: FakeTwilio, number: str) -> list[str]:
    return [m[1] for m in (re.search(r"\b(\d{6})\b", s["Body"]) for s in twilio.messages if s["To"] == number) if m]


def codes_by_email(smtp: SmtpServer, address: str) -> list[str]:
    return [m[1] for m in (re.search(r"\b(\d{6})\b", body_text(e)) for e in smtp.inbox.messages
                           if address in str(e["To"])) if m]


def deliver() -> None:
    worker = Worker(channels=channels_build(), threads=2)
    try:
        worker.run_once()
    finally:
        worker.close()


def portal_register_and_confirm(smtp: SmtpServer, twilio: FakeTwilio) -> None:
    client = Client()
    page = client.post("/search/", {"kind": "a_number", "a_number-a_number": A_NUMBER.replace("-", ""),
                                    "a_number-country_of_birth": "MX"}).content.decode()
    found = re.search(r'href="(/register/\?ref=[^"]+)"', page)
    assert found
    ref = parse_qs(urlparse(html.unescape(found[1])).query)["ref"][0]
    bad = client.post("/register/", {"ref": ref, "language": "en", "email": PORTAL_EMAIL, "sms": "555-01"})
    assert bad.status_code == 422
    response = client.post("/register/", {"ref": ref, "language": "en", "email": PORTAL_EMAIL, "sms": PORTAL_SMS,
                                          "relationship": "victim", "case_number": PORTAL_CASE})
    assert response.status_code == 302
    verify_url = response["Location"]
    assert Client().get(verify_url).status_code == 404  # another browser: a django.request warning
    deliver()
    registration = Registration.objects.get(relationship="victim", created_via="portal")
    first = registration.verifications.first()
    assert first is not None
    wrong = client.post(verify_url, {"verification": first.pk, "code": "000000", "action": "confirm"})
    assert wrong.status_code == 422
    codes = {"email": codes_by_email(smtp, PORTAL_EMAIL)[-1], "sms": codes_by_sms(twilio, "+12025550171")[-1]}
    for verification in registration.verifications.select_related("contact"):
        client.post(verify_url, {"verification": verification.pk, "code": codes[verification.contact.channel],
                                 "action": "confirm"})
    registration.refresh_from_db()
    assert registration.status == "active"


def api_register_and_confirm(smtp: SmtpServer) -> None:
    client = Client()
    ref = client.get("/api/v1/locator", {"a_number": A_NUMBER, "country_of_birth": "MX"}).json()["results"][0]
    body = {"subject_ref": ref["subject_ref"], "language": "es", "case_number": API_CASE,
            "contacts": [{"channel": "email", "value": API_EMAIL}]}
    created = client.post("/api/v1/registrations", body, content_type="application/json")
    assert created.status_code == 202, created.content
    registration_id = created.json()["registration_id"]
    deliver()
    url = f"/api/v1/registrations/{registration_id}/confirm"
    stranger = client.post(url, {"contact": "someone.else@example.org", "code": "123456"},
                           content_type="application/json")
    assert stranger.status_code == 422
    confirmed = client.post(url, {"contact": API_EMAIL, "code": codes_by_email(smtp, API_EMAIL)[-1]},
                            content_type="application/json")
    assert confirmed.status_code == 200, confirmed.content


def hotline_register(smtp: SmtpServer) -> None:
    console = staff_client("logscan", matrix.CALL_CENTRE)[0]
    call_url = console.post("/staff/hotline/calls/new")["Location"]
    console.post(call_url + "intake", {"intake-caller_name": CALLER_NAME, "intake-language": "en",
                                       "intake-notes": "prefers mornings after nine"})
    found = console.post(call_url + "search", {"kind": "name", "name-first_name": SUBJECT["first_name"],
                                               "name-last_name": SUBJECT["last_name"],
                                               "name-country_of_birth": "MX"}).content.decode()
    ref = re.search(r'name="ref" value="([^"]+)"', found)
    assert ref
    registered = console.post(call_url + "register", {"ref": ref[1], "language": "en", "email": CALLER_EMAIL,
                                                      "relationship": "family", "case_number": CALLER_CASE})
    assert registered.status_code == 302
    deliver()
    verification = Registration.objects.get(created_via="hotline").verifications.get()
    assert console.post(call_url + "code", {"verification": verification.pk, "code": "000000"}).status_code == 422
    right = console.post(call_url + "code", {"verification": verification.pk,
                                             "code": codes_by_email(smtp, CALLER_EMAIL)[-1]})
    assert right.status_code == 200
    console.post(call_url + "callback", {"callback-due": "2026-12-01T09:30", "callback-timezone": "America/Chicago",
                                         "callback-phone": CALLBACK_PHONE, "callback-notes": CALLER_NAME})
    console.post(call_url + "end", {"end-outcome": "registered"})


def release_and_send(api: Client, agency: Agency, monkeypatch: pytest.MonkeyPatch) -> None:
    subscribe(agency, SUBJECT["agency_subject_id"], sms=SMS_NUMBER)
    subscribe(agency, SUBJECT["agency_subject_id"], sms=INVALID_NUMBER)
    released = post_events(api, booked("log-r1", "RELEASED", reason="bond", occurred_at="2026-11-02T10:00:00+00:00"))
    assert released.json()["accepted"] == 1
    real_send = EmailChannel._send_smtp

    def relay_bug(self: EmailChannel, notification: Notification, message_id: str) -> None:
        # A library error that quotes the recipient, as real ones do: the worker logs it with its traceback.
        if notification.contact.value == CALLER_EMAIL:
            raise RuntimeError(f"relay choked on <{notification.contact.value}>")
        real_send(self, notification, message_id)

    monkeypatch.setattr(EmailChannel, "_send_smtp", relay_bug)
    deliver()


def twilio_post(path: str, params: dict[str, str]) -> Any:
    signature = RequestValidator("test-auth-token").compute_signature(f"https://vinex.example.org{path}", params)
    return Client().post(path, data=params, headers={"X-Twilio-Signature": signature})


def inbound_sms(twilio: FakeTwilio) -> None:
    for text in ("HELP", "STOP", "START", "yes I am the cousin of the woman in cell 4"):
        assert twilio_post("/webhooks/twilio/sms", {"From": SMS_NUMBER, "Body": text}).status_code == 200
    sid = next(m["Sid"] for m in twilio.messages if m["To"] == SMS_NUMBER)
    receipt = {"MessageSid": sid, "MessageStatus": "delivered", "To": SMS_NUMBER}
    assert twilio_post("/webhooks/twilio/status", receipt).status_code == 204
    forged = Client().post("/webhooks/twilio/sms", {"From": SMS_NUMBER, "Body": "STOP"})
    assert forged.status_code == 403


# --- The scan -------------------------------------------------------------------------------------


def test_no_personal_data_reaches_the_logs(captured: LogCapture, agency: Agency, api: Client,
                                           smtp_settings: SmtpServer, twilio_settings: FakeTwilio,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert_values_are_held_back()
    # SQL is logged (at DEBUG, parameters included) whenever queries are recorded, as here: the hold must stop it.
    with CaptureQueriesContext(connection):
        ingest_via_api(api)
        locator_searches()
        portal_register_and_confirm(smtp_settings, twilio_settings)
        api_register_and_confirm(smtp_settings)
        hotline_register(smtp_settings)
        release_and_send(api, agency, monkeypatch)
        inbound_sms(twilio_settings)

    # The capture saw these flows (so an empty or broken capture cannot pass)...
    assert captured.saw("vinex.locator.api", "locator search")
    assert captured.saw("vinex.portal.views", "locator search")
    assert captured.saw("vinex.portal.views", "registration created")
    assert captured.saw("vinex.portal.api", "registration created")
    assert captured.saw("vinex.notify.worker", "notification attempt")
    assert captured.saw("twilio.http_client", "-- BEGIN Twilio API Request")
    bugs = captured.saw("vinex.notify.worker", "unexpected error in channel")
    assert bugs and all("Traceback" in b["exc_info"] and "RuntimeError" in b["exc_info"] for b in bugs)
    for status in ("Not Found", "Unprocessable", "Forbidden"):
        assert any(e["logger"] == "django.request" and e["message"].startswith(status) for e in captured.entries())
    assert Notification.objects.filter(status="sent").count() >= 3
    # ...and none of what it handled.
    assert captured.leaks(SEEDED) == [], "\n".join(captured.offending(SEEDED))


# --- Controls: the scan finds a leak wherever one could be introduced -----------------------------------


def test_the_scan_finds_a_name_in_an_extra_field(captured: LogCapture) -> None:
    logging.getLogger("vinex.logscan").info("caller noted", extra={"caller": CALLER_NAME})
    assert captured.leaks(SEEDED) == ["caller name", "caller first name"]


def raise_and_log() -> None:
    try:
        raise LookupError(f"no contact {CALLER_EMAIL} for {SUBJECT['first_name']}")
    except LookupError:
        logging.getLogger("vinex.logscan").exception("lookup failed")


def test_tracebacks_are_kept_without_the_messages_that_quote_values(captured: LogCapture) -> None:
    raise_and_log()
    [entry] = captured.saw("vinex.logscan", "lookup failed")
    assert "in raise_and_log" in entry["exc_info"] and entry["exc_info"].endswith("builtins.LookupError")
    assert captured.leaks(SEEDED) == []


def test_the_scan_reads_tracebacks(captured: LogCapture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PersonalDataFilter, "filter", lambda self, record: True)  # as if the filter were lost
    raise_and_log()
    assert captured.leaks(SEEDED) == ["subject first name", "caller email"]


def test_the_scan_finds_sql_parameters_if_the_sql_log_is_opened(captured: LogCapture, api: Client,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logging.getLogger("django.db.backends"), "level", logging.DEBUG)
    with CaptureQueriesContext(connection):
        post_events(api, booked("log-b1"))
    assert "subject last name" in captured.leaks(SEEDED)

