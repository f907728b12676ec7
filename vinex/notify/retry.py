"""The retry policy, in one place: how long to wait before trying a transient failure again."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings


def should_retry(*, attempts: int, permanent: bool) -> bool:
    """Whether a notification that has failed ``attempts`` times gets another try."""
    return not permanent and attempts < settings.VINEX_RETRY_MAX_ATTEMPTS


def next_attempt_at(*, attempts: int, now: datetime) -> datetime:
    """Exponential backoff (base * 2^(attempts-1), capped), with ±10 % jitter so that a provider
    outage does not end with every queued message retried in the same instant."""
    delay = min(settings.VINEX_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), settings.VINEX_RETRY_MAX_SECONDS)
    jitter = delay * random.uniform(-0.1, 0.1)  # noqa: S311 - spreading load, not security
    return now + timedelta(seconds=delay + jitter)


def voice_next_attempt_at(*, first_queued_at: datetime, answered: bool, now: datetime) -> datetime | None:
    """When to call again about an unconfirmed voice notification, or None to stop calling.

    VINE's proven pattern: every 30 minutes while nobody answers, every 2 hours once someone (or a
    voicemail) answered without keying the PIN, for at most 24 hours; all configurable.
    """
    minutes = settings.VINEX_VOICE_RETRY_ANSWERED_MINUTES if answered else settings.VINEX_VOICE_RETRY_UNANSWERED_MINUTES
    candidate = now + timedelta(minutes=minutes)
    if candidate > first_queued_at + timedelta(hours=settings.VINEX_VOICE_GIVE_UP_HOURS):
        return None
    return candidate
