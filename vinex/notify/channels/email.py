"""Email through Django's configured backend (SMTP in production, a file outbox in development)."""

from __future__ import annotations

import contextlib
import smtplib
import threading
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend

from vinex.notify.channels.base import Channel, DeliveryError, ProviderResult
from vinex.notify.models import Notification

_CONNECTION_LOST = (smtplib.SMTPServerDisconnected, ConnectionResetError, BrokenPipeError)


class EmailChannel(Channel):
    name = "email"

    def __init__(self) -> None:
        # One SMTP connection per worker thread, reused across messages.
        self._local = threading.local()

    def _connection(self) -> BaseEmailBackend:
        connection: BaseEmailBackend | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = get_connection(fail_silently=False)
            self._local.connection = connection
        # Opening explicitly keeps the connection open after send(), so the next message reuses it.
        connection.open()
        return connection

    def send(self, notification: Notification) -> ProviderResult:
        try:
            return self._send(notification)
        except _CONNECTION_LOST:
            # The kept-alive connection was closed by the server while idle: reconnect once.
            self._drop()
        try:
            return self._send(notification)
        except _CONNECTION_LOST:
            self._drop()
            raise DeliveryError("SMTP connection lost", permanent=False) from None

    def _send(self, notification: Notification) -> ProviderResult:
        from vinex.notify.services import unsubscribe_url

        message_id = make_msgid(domain="vinex")
        recipient = notification.contact.value
        link = unsubscribe_url(contact=notification.contact)
        message = EmailMessage(
            subject=notification.subject_line,
            body=notification.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[recipient],
            headers={
                "List-Unsubscribe": f"<{link}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "Message-ID": message_id,
                "X-Vinex-Notification": str(notification.pk),
            },
        )
        try:
            message.connection = self._connection()
            message.send()
        except _CONNECTION_LOST:
            raise
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            permanent = all(500 <= code < 600 for code in codes)
            self._drop()
            raise DeliveryError(f"recipient refused (SMTP {codes})", permanent=permanent) from None
        except smtplib.SMTPResponseException as error:
            self._drop()
            raise DeliveryError(f"SMTP error {error.smtp_code}", permanent=500 <= error.smtp_code < 600) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as error:
            self._drop()
            raise DeliveryError(f"SMTP unavailable: {type(error).__name__}", permanent=False) from None
        return ProviderResult(provider_id=message_id)

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            with contextlib.suppress(Exception):  # already broken; closing is best effort
                connection.close()
            self._local.connection = None

    def close(self) -> None:
        self._drop()
