"""Email hard bounces end to end over real SMTP: the message leaves with a VERP return path, the bounce
comes back to the ``vinex bounces`` listener, the address is marked undeliverable and the message goes by
the registrant's text messages instead."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import event
from tests.custody.test_services import ingest
from tests.factories import subscribe
from tests.support.smtp import Inbox, SmtpServer, free_port
from vinex.custody.models import Agency
from vinex.notify.bounces import BounceHandler, bounce_read, return_path
from vinex.notify.models import Contact, Notification, NotificationStatus
from vinex.notify.worker import Worker

DOMAIN = "bounces.vinex.example.org"


class EnvelopeInbox(Inbox):
    """Keeps each message's envelope sender too: the return path a bounce goes to."""

    def __init__(self) -> None:
        super().__init__()
        self.senders: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.senders.append(envelope.mail_from)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def outgoing(settings: Any) -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.inbox = EnvelopeInbox()
    server.controller = Controller(server.inbox, hostname="127.0.0.1", port=server.port)
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.VINEX_BOUNCE_DOMAIN = DOMAIN
    settings.VINEX_SMS_PROVIDER = "log"
    yield server
    server.stop()


@pytest.fixture
def bounce_listener() -> Iterator[int]:
    port = free_port()
    controller = Controller(BounceHandler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


def dsn(status: str, original_to: str) -> bytes:
    """A delivery status notification as a receiving mail server writes it (RFC 3464)."""
    return (
        "From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n"
        "--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {original_to}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} user unknown\r\n"
        "--b1--\r\n"
    ).encode()


def send_bounce(port: int, to: str, content: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.sendmail("", [to], content)


def wait_until(check: Any, timeout: float = 10.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_a_dsn_is_read_as_hard_or_soft() -> None:
    assert bounce_read(dsn("5.1.1", "a@example.org")).hard  # type: ignore[union-attr]
    assert not bounce_read(dsn("4.2.2", "a@example.org")).hard  # type: ignore[union-attr]
    assert bounce_read(b"Subject: hello\r\n\r\nnot a report") is None


@pytest.mark.django_db(transaction=True)
def test_a_hard_bounce_marks_the_address_undeliverable_and_sends_by_text(
        agency: Agency, outgoing: SmtpServer, bounce_listener: int) -> None:
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, email="gone@example.org", sms="+12025550143")
    ingest(agency, event("r1", "RELEASED", minutes=5, reason="bond"))
    worker = Worker(threads=1)
    worker.run_once()
    email = Notification.objects.get(channel="email")
    assert email.status == NotificationStatus.SENT
    [sender] = outgoing.inbox.senders  # type: ignore[attr-defined]
    assert sender == return_path(notification_id=email.pk) and sender.endswith(f"@{DOMAIN}")

    send_bounce(bounce_listener, sender, dsn("5.1.1", "gone@example.org"))
    assert wait_until(lambda: Notification.objects.get(pk=email.pk).status == NotificationStatus.FAILED_PERMANENT)
    contact = Contact.objects.get(channel="email")
    assert contact.undeliverable_at is not None and "5.1.1" in contact.undeliverable_reason
    # The registrant already had the text message for this event; nothing is sent twice.
    assert Notification.objects.filter(channel="sms", event=email.event).count() == 1

    # The next event goes by text only: the bounced address gets nothing more.
    ingest(agency, event("b2", "BOOKED", minutes=10))
    assert not Notification.objects.filter(channel="email", event__event_id="b2").exists()
    assert Notification.objects.filter(channel="sms", event__event_id="b2").exists()


@pytest.mark.django_db(transaction=True)
def test_a_bounced_email_goes_by_the_registrants_other_channel(agency: Agency, outgoing: SmtpServer,
                                                              bounce_listener: int) -> None:
    from tests.actors import ACTOR
    from vinex.notify.services import contact_add

    ingest(agency, event("b1", "BOOKED"))
    registrant = subscribe(agency, email="gone@example.org")
    ingest(agency, event("r1", "RELEASED", minutes=5, reason="bond"))
    Worker(threads=1).run_once()
    # A number added after the email left: the bounce sends the release there.
    contact_add(actor=ACTOR, registrant=registrant, channel="sms", value="+12025550143", verified=True)
    [sender] = outgoing.inbox.senders  # type: ignore[attr-defined]
    send_bounce(bounce_listener, sender, dsn("5.1.1", "gone@example.org"))
    assert wait_until(lambda: Notification.objects.filter(channel="sms").exists())
    Worker(threads=1).run_once()
    text = Notification.objects.get(channel="sms")
    assert text.event is not None and text.event.event_id == "r1" and text.status == NotificationStatus.SENT


@pytest.mark.django_db(transaction=True)
def test_forged_or_soft_bounces_change_nothing(agency: Agency, outgoing: SmtpServer, bounce_listener: int) -> None:
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, email="busy@example.org")
    ingest(agency, event("r1", "RELEASED", minutes=5))
    Worker(threads=1).run_once()
    [sender] = outgoing.inbox.senders  # type: ignore[attr-defined]
    forged = sender.replace("bounces+", "bounces+9").split("-")[0] + "-0123456789abcdef@" + DOMAIN
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send_bounce(bounce_listener, forged, dsn("5.1.1", "busy@example.org"))
    send_bounce(bounce_listener, sender, dsn("4.2.2", "busy@example.org"))
    assert wait_until(lambda: "4.2.2" in Notification.objects.get().last_error)
    assert Notification.objects.get().status == NotificationStatus.SENT
    assert Contact.objects.get().undeliverable_at is None
