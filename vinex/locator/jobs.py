"""The locator's periodic jobs (run by ``vinex scheduler``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings

from vinex.core.jobs import Job
from vinex.locator.models import RateCounter


def sessions_clear(*, now: datetime) -> int:
    """Delete expired browser sessions and rate-limit windows.

    Every search from a client without a session cookie begins a session, so a script dropping its
    cookie would otherwise grow the session table without end.
    """
    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore.clear_expired()
    deleted, _ = RateCounter.objects.filter(expires_at__lt=now - timedelta(minutes=1)).delete()
    return deleted


JOBS = [
    Job(name="locator.sessions_clear", run=sessions_clear, every=timedelta(hours=1)),
]
