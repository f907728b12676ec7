"""Delivery channels: one class per transport behind ``Channel.send``."""

from __future__ import annotations

from django.conf import settings

from vinex.notify.channels.base import Channel, DeliveryError, ProviderResult
from vinex.notify.channels.email import EmailChannel
from vinex.notify.channels.sms import LogSmsChannel, TwilioSmsChannel

__all__ = ["Channel", "DeliveryError", "ProviderResult", "channels_build"]


def channels_build() -> dict[str, Channel]:
    """The channel instance for each channel name, as configured."""
    sms: Channel = TwilioSmsChannel() if settings.VINEX_SMS_PROVIDER == "twilio" else LogSmsChannel()
    return {"email": EmailChannel(), "sms": sms}
