"""Settings of the hotline app, read from the environment (imported by vinex.settings)."""

from __future__ import annotations

import os
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ImproperlyConfigured

from vinex.core.config import env_int
from vinex.locator.rates import parse_rate


def _rate(name: str, default: str) -> str:
    value = os.environ.get(name, "") or default
    try:
        parse_rate(value)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}") from None
    return value


def _timezone(name: str, default: str) -> str:
    value = os.environ.get(name, "") or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"{name}: unknown time zone {value!r}") from None
    return value


# Longest free-text note a call or callback may carry (characters).
VINEX_HOTLINE_NOTES_MAX = env_int("VINEX_HOTLINE_NOTES_MAX", default=1000)
# Locator searches per call-centre user (the public locator rules apply as well).
VINEX_HOTLINE_SEARCH_RATE = _rate("VINEX_HOTLINE_SEARCH_RATE", "60/minute")
# Callback requests a calling number may leave through the phone menu.
VINEX_HOTLINE_CALLBACK_RATE = _rate("VINEX_HOTLINE_CALLBACK_RATE", "3/day")
# Registrations a calling number may start through the phone menu.
VINEX_HOTLINE_IVR_REGISTRATION_RATE = _rate("VINEX_HOTLINE_IVR_REGISTRATION_RATE", "5/day")
# Time zone assumed for a caller whose number says nothing about where they are.
VINEX_HOTLINE_TIMEZONE = _timezone("VINEX_HOTLINE_TIMEZONE", "America/New_York")
# The Twilio queue that callers who ask to speak with someone wait in.
VINEX_HOTLINE_QUEUE = os.environ.get("VINEX_HOTLINE_QUEUE", "") or "vinex-hotline"

# The call centre's phone, which the phone menu rings when a caller asks to speak with someone (E.164, e.g.
# +12025550100). Unset, callers wait in the queue above for an agent to take them.
VINEX_HOTLINE_AGENT_NUMBER = os.environ.get("VINEX_HOTLINE_AGENT_NUMBER", "").replace(" ", "")
if VINEX_HOTLINE_AGENT_NUMBER and not (VINEX_HOTLINE_AGENT_NUMBER.startswith("+")
                                       and VINEX_HOTLINE_AGENT_NUMBER[1:].isdigit()):
    raise ImproperlyConfigured("VINEX_HOTLINE_AGENT_NUMBER: give the number in E.164 form, like +12025550100")
# Wrong PINs a calling number may key in at the registered-caller menu.
VINEX_HOTLINE_IVR_PIN_RATE = _rate("VINEX_HOTLINE_IVR_PIN_RATE", "5/hour")
