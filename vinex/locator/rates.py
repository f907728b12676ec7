"""Rate strings such as ``30/minute``: parsed without Django so settings can validate them."""

from __future__ import annotations

import re
from typing import NamedTuple

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)s?\s*$")


class Rate(NamedTuple):
    limit: int
    seconds: int


def parse_rate(value: str) -> Rate:
    """``"30/minute"`` -> Rate(30, 60); ``"100/5minutes"`` -> Rate(100, 300). Raises ValueError."""
    match = _RATE.match(value.lower())
    if not match:
        raise ValueError(f"a rate looks like 30/minute or 500/day, not {value!r}")
    limit, multiple, period = int(match[1]), int(match[2] or 1), match[3]
    if limit < 1 or multiple < 1:
        raise ValueError("a rate needs a positive count and period")
    return Rate(limit, multiple * _PERIODS[period])


def env_rate(name: str, default: str) -> str:
    """A rate such as ``30/minute`` from the environment, refused at start-up when malformed."""
    import os

    from django.core.exceptions import ImproperlyConfigured

    value = os.environ.get(name, "") or default
    try:
        parse_rate(value)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}") from None
    return value
