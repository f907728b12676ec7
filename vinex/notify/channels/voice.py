"""Voice calls through Twilio: the call speaks the message and asks for the registrant's PIN.

Placing the call is all ``send`` does; what happens on the call (answer, PIN, voicemail) comes back
through the voice webhooks (``vinex.notify.webhooks``) and is decided in ``vinex.notify.voice``.
"""

from __future__ import annotations

import hashlib
import logging
from functools import cached_property

from django.conf import settings
from twilio.rest import Client

from vinex.notify.channels.base import Channel, ProviderResult
from vinex.notify.channels.sms import twilio_client, twilio_provider, twilio_send
from vinex.notify.models import Notification
from vinex.notify.voice import call_reference

logger = logging.getLogger(__name__)


def voice_urls(notification: Notification) -> tuple[str, str]:
    """The TwiML and status-callback URLs for a call about ``notification`` (signed reference inside)."""
    ref = call_reference(notification_id=notification.pk)
    base = settings.VINEX_PUBLIC_URL
    return f"{base}/webhooks/twilio/voice?ref={ref}", f"{base}/webhooks/twilio/voice/status?ref={ref}"


class TwilioVoiceChannel(Channel):
    name = "voice"

    def __init__(self) -> None:
        self.provider = twilio_provider()

    @cached_property
    def client(self) -> Client:
        return twilio_client()

    def send(self, notification: Notification) -> ProviderResult:
        answer_url, status_url = voice_urls(notification)
        return twilio_send(lambda: self.client.calls.create(
            to=notification.contact.value,
            # One published caller ID, always the same: an unknown number gets blocked or ignored.
            from_=settings.TWILIO_FROM,
            url=answer_url,
            status_callback=status_url,
            machine_detection="DetectMessageEnd",
            timeout=30,
        ))


class LogVoiceChannel(Channel):
    """Development provider: records that a call would be placed, without the number or the text."""

    name = "voice"

    def send(self, notification: Notification) -> ProviderResult:
        fake_sid = "LOGCA" + hashlib.sha256(str(notification.pk).encode()).hexdigest()[:27]
        logger.info("voice call logged, not placed", extra={"notification": notification.pk})
        return ProviderResult(provider_id=fake_sid)
