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
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from vinex.notify.channels.base import Channel, DeliveryError, ProviderResult
from vinex.notify.models import Notification

logger = logging.getLogger(__name__)

# Twilio error codes that no retry will fix (invalid or unreachable number, opted out, landline...).
PERMANENT_TWILIO_CODES = frozenset({21211, 21214, 21217, 21401, 21408, 21610, 21612, 21614, 21421, 30004, 30005, 30006})


# A request that hangs is a provider fault like a 503: give up on it after this many seconds.
TWILIO_TIMEOUT_SECONDS = 15.0


class TwilioThrottled(Exception):
    """Twilio answered 429: this account must wait ``retry_after`` seconds before its next request."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"Twilio asked to wait {retry_after:g} s")
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float:
    # Twilio sends seconds; an HTTP date or nothing falls back to the configured pause.
    try:
        return max(float(value or ""), 0.0)
    except ValueError:
        return float(settings.VINEX_PROVIDER_DEFAULT_RETRY_AFTER_SECONDS)


class _ThrottleAwareHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, except that a 429 raises with its Retry-After (the SDK's error drops the
    headers) and a request never waits forever."""

    def request(self, *args: Any, **kwargs: Any) -> Response:
        kwargs["timeout"] = kwargs.get("timeout") or TWILIO_TIMEOUT_SECONDS
        response = super().request(*args, **kwargs)
        if response.status_code == 429:
            headers = response.headers or {}
            raise TwilioThrottled(_retry_after(headers.get("Retry-After")))
        return response


def twilio_client() -> Client:
    client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=_ThrottleAwareHttpClient())
    client.api.base_url = settings.TWILIO_API_URL
    return client


def twilio_provider() -> str:
    """The breaker and back-off key: limits are per Twilio account."""
    return f"twilio:{settings.TWILIO_ACCOUNT_SID}"


def status_callback_url(notification: Notification) -> str:
    return f"{settings.VINEX_PUBLIC_URL}/webhooks/twilio/status?notification={notification.pk}"


def classify_twilio_error(error: TwilioRestException) -> DeliveryError:
    code = error.code if isinstance(error.code, int) else 0
    permanent = code in PERMANENT_TWILIO_CODES or (400 <= error.status < 500 and error.status != 429)
    if error.status >= 500 or error.status == 429:
        permanent = False
    return DeliveryError(f"Twilio error {code or error.status}", permanent=permanent,
                         provider_fault=error.status >= 500)


def twilio_send(create: Callable[[], Any]) -> ProviderResult:
    """Call the Twilio SDK and turn its failures into DeliveryError (permanent or not)."""
    try:
        resource = create()
    except TwilioThrottled as throttled:
        raise DeliveryError(str(throttled), permanent=False, retry_after=throttled.retry_after) from None
    except TwilioRestException as error:
        raise classify_twilio_error(error) from None
    except (TwilioException, RequestException, OSError) as error:
        raise DeliveryError(f"Twilio unreachable: {type(error).__name__}", permanent=False,
                            provider_fault=True) from None
    return ProviderResult(provider_id=resource.sid or "")


class TwilioSmsChannel(Channel):
    name = "sms"

    def __init__(self) -> None:
        self.provider = twilio_provider()

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
