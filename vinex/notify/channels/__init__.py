"""Delivery channels: one class per transport behind ``Channel.send``."""

from __future__ import annotations

from django.conf import settings

from vinex.notify.channels.base import Channel, DeliveryError, ProviderResult
from vinex.notify.channels.email import EmailChannel
from vinex.notify.channels.sms import LogSmsChannel, TwilioSmsChannel
from vinex.notify.channels.voice import LogVoiceChannel, TwilioVoiceChannel

__all__ = ["Channel", "DeliveryError", "ProviderResult", "channels_build"]


def channels_build() -> dict[str, Channel]:
    """The channel instance for each channel name, as configured."""
    twilio = settings.VINEX_SMS_PROVIDER == "twilio"
    sms: Channel = TwilioSmsChannel() if twilio else LogSmsChannel()
    voice: Channel = TwilioVoiceChannel() if twilio else LogVoiceChannel()
    return {"email": EmailChannel(), "sms": sms, "voice": voice}
