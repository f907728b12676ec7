"""End to end: the real server and worker processes, a real SMTP server, the real Twilio SDK.

An agency posts events over HTTP; registrants' emails arrive at the SMTP server and SMS reach the
(fake, loopback) Twilio API; Twilio's callbacks come back signed over HTTP.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection
from twilio.request_validator import RequestValidator

from tests.actors import ACTOR
from tests.conftest import event
from tests.factories import subscribe
from tests.support.smtp import SmtpServer, body_text, free_port
from tests.support.twilio_fake import FakeTwilio, start_fake_twilio
from vinex.custody.models import Agency, Facility
from vinex.custody.services import apikey_create
from vinex.notify.models import Contact, Notification, NotificationStatus

AUTH_TOKEN = "e2e-auth-token"


@dataclass
class Stack:
    base_url: str
    token: str
    smtp: SmtpServer
    twilio: FakeTwilio

    def post_events(self, *events: dict[str, object]) -> dict[str, object]:
        response = requests.post(f"{self.base_url}/api/v1/custody-events", json={"events": list(events)},
                                 headers={"Authorization": f"Bearer {self.token}"}, timeout=10)
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    def twilio_callback(self, path: str, params: dict[str, str]) -> requests.Response:
        signature = RequestValidator(AUTH_TOKEN).compute_signature(self.base_url + path, params)
        return requests.post(self.base_url + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_until(condition: object, timeout: float = 15.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.05)
    return False


def _stopped_within(process: subprocess.Popen[bytes], *, seconds: float) -> int | None:
    """The exit status, or None (after killing it) when the process is still running after ``seconds``."""
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path) -> Iterator[Stack]:
    agency = Agency.objects.create(code="pine", name="Pine County Sheriff", jurisdiction_code="US-XX-001",
                                   support_name="Pine Victim Services", support_phone="+1 555 010 0100")
    Facility.objects.create(agency=agency, code="main", name="Pine County Jail", timezone="America/New_York")
    Facility.objects.create(agency=agency, code="annex", name="Pine Annex", timezone="America/New_York")
    _, token = apikey_create(actor=ACTOR, agency=agency)
    smtp, twilio, port = SmtpServer().start(), start_fake_twilio(), free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "VINEX_DATABASE_URL": database_url(),
        "VINEX_SECRET_KEY": settings.SECRET_KEY,
        "VINEX_FIELD_KEY": ",".join(settings.VINEX_FIELD_KEYS),
        "VINEX_PUBLIC_URL": base_url,
        "VINEX_EMAIL_URL": smtp.url,
        "VINEX_SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM": "+15005550006",
        "TWILIO_API_URL": twilio.url,
    }
    server_log = tmp_path / "serve.log"
    processes = [
        subprocess.Popen([sys.executable, "-m", "vinex.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
                         env=env, stderr=server_log.open("wb")),
        subprocess.Popen([sys.executable, "-m", "vinex.cli", "worker"], env=env),
    ]
    try:
        assert wait_until(lambda: _healthy(base_url), timeout=60), "server did not start"
        yield Stack(base_url, token, smtp, twilio)
    finally:
        for process in processes:
            process.terminate()
        # A worker finishes its round before stopping; a round may wait out SQLite's 30 s busy timeout on a
        # loaded machine, so allow for that before calling the stop hung.
        statuses = [_stopped_within(p, seconds=60) for p in processes]
        assert None not in statuses, f"did not stop on SIGTERM within 60 s: {statuses}"
        # Stopped cleanly: no process aborted on its way out (a web worker that loaded DuckDB before the
        # fork used to die of SIGABRT at every stop).
        assert statuses == [0, 0]
        assert "SIGABRT" not in server_log.read_text() and "terminate called" not in server_log.read_text()
        smtp.stop()
        twilio.close()


def _healthy(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/healthz", timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or too busy starting to answer in time: ask again
        return False


def test_a_release_reaches_english_and_spanish_inboxes(stack: Stack) -> None:
    agency = Agency.objects.get(code="pine")
    stack.post_events(event("b1", "BOOKED"))
    subscribe(agency, email="victim.en@example.org", language="en")
    subscribe(agency, email="victima.es@example.org", language="es")
    body = stack.post_events(event("r1", "RELEASED", minutes=30, reason="bond"))
    assert body["accepted"] == 1
    messages = stack.smtp.inbox.wait_for(2)
    by_recipient = {m["To"]: m for m in messages}
    english, spanish = by_recipient["victim.en@example.org"], by_recipient["victima.es@example.org"]
    assert english["Subject"] == "Custody update: released"
    assert "Robin Quill was released from Pine County Jail on Nov 20, 2026, 5:30 AM" in body_text(english)
    assert spanish["Subject"] == "Aviso de custodia: puesta en libertad"
    assert "Robin Quill fue puesto en libertad de Pine County Jail el 20 nov 2026, 5:30" in body_text(spanish)
    assert f"{stack.base_url}/unsubscribe/" in body_text(english)


def test_a_late_duplicate_and_an_out_of_order_event_send_nothing_more(stack: Stack) -> None:
    agency = Agency.objects.get(code="pine")
    stack.post_events(event("b1", "BOOKED"))
    subscribe(agency, email="victim@example.org")
    stack.post_events(event("r1", "RELEASED", minutes=30))
    assert len(stack.smtp.inbox.wait_for(1)) == 1
    stack.post_events(event("r1", "RELEASED", minutes=30), event("t1", "TRANSFERRED", minutes=10,
                                                                   to_facility_code="annex"))
    time.sleep(1.0)  # give a wrong message the time to arrive, so its absence means something
    assert len(stack.smtp.inbox.messages) == 1


def test_sms_receipt_and_stop_over_http(stack: Stack) -> None:
    agency = Agency.objects.get(code="pine")
    stack.post_events(event("b1", "BOOKED"))
    subscribe(agency, sms="+12025550143", language="es")
    stack.post_events(event("r1", "RELEASED", minutes=30))
    assert wait_until(lambda: len(stack.twilio.messages) == 1)
    sms = stack.twilio.messages[0]
    assert sms["To"] == "+12025550143" and "fue puesto en libertad" in sms["Body"]
    notification_id = Notification.objects.get().pk
    assert sms["StatusCallback"] == f"{stack.base_url}/webhooks/twilio/status?notification={notification_id}"
    assert wait_until(lambda: Notification.objects.filter(provider_id=sms["Sid"]).exists())

    receipt = stack.twilio_callback("/webhooks/twilio/status", {"MessageSid": sms["Sid"], "MessageStatus": "delivered"})
    assert receipt.status_code == 204
    assert Notification.objects.get(provider_id=sms["Sid"]).status == NotificationStatus.DELIVERED

    forged = requests.post(f"{stack.base_url}/webhooks/twilio/sms", data={"From": "+12025550143", "Body": "STOP"},
                           headers={"X-Twilio-Signature": "forged"}, timeout=10)
    assert forged.status_code == 403
    assert Contact.objects.get().opted_out_at is None

    reply = stack.twilio_callback("/webhooks/twilio/sms", {"From": "+12025550143", "Body": "STOP"})
    assert reply.status_code == 200 and "<Message>" in reply.text
    assert Contact.objects.get().opted_out_at is not None
    assert stack.post_events(event("b2", "BOOKED", minutes=60))["accepted"] == 1
    time.sleep(1.0)  # give a wrong message the time to arrive, so its absence means something
    assert len(stack.twilio.messages) == 1
    assert Notification.objects.count() == 1
