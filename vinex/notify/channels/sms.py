"""SMS through Twilio's SDK, or a log-only provider for development."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from functools import cached_property
from typing import Any

from django.conf import settings
from requests.exceptions import RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from vinex.notify.channels.base import Channel, DeliveryError, ProviderResult
from vinex.notify.models import Notification

logger = logging.getLogger(__name__)

# Twilio error codes that no retry will fix (invalid or unreachable number, opted out, landline...).
PERMANENT_TWILIO_CODES = frozenset({21211, 21214, 21217, 21401, 21408, 21610, 21612, 21614, 21421, 30004, 30005, 30006})


def twilio_client() -> Client:
    client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
    client.api.base_url = settings.TWILIO_API_URL
    return client


def status_callback_url(notification: Notification) -> str:
    return f"{settings.VINEX_PUBLIC_URL}/webhooks/twilio/status?notification={notification.pk}"


def classify_twilio_error(error: TwilioRestException) -> DeliveryError:
    code = error.code if isinstance(error.code, int) else 0
    permanent = code in PERMANENT_TWILIO_CODES or (400 <= error.status < 500 and error.status != 429)
    if error.status >= 500 or error.status == 429:
        permanent = False
    return DeliveryError(f"Twilio error {code or error.status}", permanent=permanent)


def twilio_send(create: Callable[[], Any]) -> ProviderResult:
    """Call the Twilio SDK and turn its failures into DeliveryError (permanent or not)."""
    try:
        resource = create()
    except TwilioRestException as error:
        raise classify_twilio_error(error) from None
    except (TwilioException, RequestException, OSError) as error:
        raise DeliveryError(f"Twilio unreachable: {type(error).__name__}", permanent=False) from None
    return ProviderResult(provider_id=resource.sid or "")


class TwilioSmsChannel(Channel):
    name = "sms"

    @cached_property
    def client(self) -> Client:
        return twilio_client()

    def send(self, notification: Notification) -> ProviderResult:
        return twilio_send(lambda: self.client.messages.create(
            to=notification.contact.value,
            from_=settings.TWILIO_FROM,
            body=notification.body,
            status_callback=status_callback_url(notification),
        ))


class LogSmsChannel(Channel):
    """Development provider: records that a message would be sent, without the number or the text."""

    name = "sms"

    def send(self, notification: Notification) -> ProviderResult:
        fake_sid = "LOG" + hashlib.sha256(str(notification.pk).encode()).hexdigest()[:29]
        logger.info(
            "sms logged, not sent", extra={"notification": notification.pk, "chars": len(notification.body)}
        )
        return ProviderResult(provider_id=fake_sid)
