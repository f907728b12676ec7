"""Email: straight to the SMTP server in production, through Django's backend otherwise.

With an SMTP server configured the channel talks to it with ``smtplib`` over one kept-alive
connection per sending thread and builds each plain-text message from a fixed set of headers
(``vinex.notify.channels.mime``); Django's generic message builder costs a few milliseconds per
message, which at hundreds of messages a second is the whole budget. Any other backend (the file
outbox of development) is used through Django as usual.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import threading
import time
from email.utils import make_msgid, parseaddr
from functools import lru_cache

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from vinex.notify.bounces import return_path
from vinex.notify.channels.base import Channel, DeliveryError, ProviderResult
from vinex.notify.channels.mime import plain_text_message
from vinex.notify.models import Notification
from vinex.notify.services import unsubscribe_url

_CONNECTION_LOST = (smtplib.SMTPServerDisconnected, ConnectionResetError, BrokenPipeError)
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# A connection idle longer than this is checked (NOOP) before a message goes on it: a message is then
# never sent twice because a dead connection was only noticed after its data went out.
IDLE_CHECK_SECONDS = 2.0


def _headers(notification: Notification, message_id: str) -> dict[str, str]:
    link = unsubscribe_url(contact=notification.contact)
    return {
        "Message-ID": message_id,
        "List-Unsubscribe": f"<{link}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "X-Vinex-Notification": str(notification.pk),
    }


def _smtp_connect() -> smtplib.SMTP:
    timeout = getattr(settings, "EMAIL_TIMEOUT", None) or 10
    if settings.EMAIL_USE_SSL:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.EMAIL_HOST, settings.EMAIL_PORT, timeout=timeout,
                                              context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(settings.EMAIL_HOST, settings.EMAIL_PORT, timeout=timeout)
        if settings.EMAIL_USE_TLS:
            smtp.starttls(context=ssl.create_default_context())
    if settings.EMAIL_HOST_USER:
        smtp.login(settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD)
    return smtp


class EmailChannel(Channel):
    name = "email"

    def __init__(self) -> None:
        # One connection per sending thread, reused across messages.
        self._local = threading.local()
        self.provider = f"smtp:{settings.EMAIL_HOST}:{settings.EMAIL_PORT}" if settings.EMAIL_BACKEND == SMTP_BACKEND \
            else ""

    def send(self, notification: Notification) -> ProviderResult:
        # One message per SMTP transaction and no blind resend: a connection lost mid-message may have
        # delivered it, so it is reported (and retried later by the policy) rather than sent again here.
        try:
            return self._send_classified(notification)
        except _CONNECTION_LOST:
            self._drop()
            raise DeliveryError("SMTP connection lost", permanent=False, provider_fault=True) from None

    def _send_classified(self, notification: Notification) -> ProviderResult:
        message_id = make_msgid(domain="vinex")
        try:
            if settings.EMAIL_BACKEND == SMTP_BACKEND:
                self._send_smtp(notification, message_id)
            else:
                self._send_django(notification, message_id)
        except _CONNECTION_LOST:
            raise
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            self._drop()
            permanent = all(500 <= code < 600 for code in codes)
            raise DeliveryError(f"recipient refused (SMTP {codes})", permanent=permanent) from None
        except smtplib.SMTPResponseException as error:
            self._drop()
            # 421 and friends are the server's trouble; a 5xx refusal of this message is not.
            raise DeliveryError(f"SMTP error {error.smtp_code}", permanent=500 <= error.smtp_code < 600,
                                provider_fault=error.smtp_code in (421, 451, 452)) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as error:
            self._drop()
            raise DeliveryError(f"SMTP unavailable: {type(error).__name__}", permanent=False,
                                provider_fault=True) from None
        return ProviderResult(provider_id=message_id)

    def _send_smtp(self, notification: Notification, message_id: str) -> None:
        smtp = self._live_connection()
        recipient = notification.contact.value
        message = plain_text_message(
            sender=settings.DEFAULT_FROM_EMAIL, recipient=recipient, subject=notification.subject_line,
            body=notification.body, headers=_headers(notification, message_id),
        )
        # With bounces collected, the envelope sender names this message (VERP): its bounce comes back to us.
        sender = return_path(notification_id=notification.pk) or _bare_address(settings.DEFAULT_FROM_EMAIL)
        smtp.sendmail(sender, [recipient], message)
        self._local.used_at = time.monotonic()

    def _live_connection(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP | None = getattr(self._local, "smtp", None)
        if smtp is not None and time.monotonic() - getattr(self._local, "used_at", 0.0) > IDLE_CHECK_SECONDS:
            try:
                smtp.noop()
            except (*_CONNECTION_LOST, smtplib.SMTPException, OSError):
                # Closed by the server while idle: nothing was sent on it, a new one is safe.
                self._drop()
                smtp = None
        if smtp is None:
            smtp = _smtp_connect()
            self._local.smtp = smtp
            self._local.used_at = time.monotonic()
        return smtp

    def _send_django(self, notification: Notification, message_id: str) -> None:
        connection = getattr(self._local, "django", None)
        if connection is None:
            connection = get_connection(fail_silently=False)
            self._local.django = connection
        EmailMessage(
            subject=notification.subject_line, body=notification.body, from_email=settings.DEFAULT_FROM_EMAIL,
            to=[notification.contact.value], headers=_headers(notification, message_id), connection=connection,
        ).send()

    def _drop(self) -> None:
        smtp = getattr(self._local, "smtp", None)
        if smtp is not None:
            with contextlib.suppress(Exception):  # already broken; closing is best effort
                smtp.close()
            self._local.smtp = None

    def close(self) -> None:
        self._drop()


@lru_cache(maxsize=8)
def _bare_address(address: str) -> str:
    """``name@host`` of a configured ``Name <name@host>``, parsed once rather than for every message."""
    return parseaddr(address)[1]
