"""Failed credentials (wrong API keys): limited per client, and aggregated in the audit log.

A script trying keys used to add one hash-chained entry per attempt: unbounded writes, each taking the
audit head's lock. Now failures are counted per client (a keyed hash of its address) in fixed windows of
``VINEX_AUTH_FAILURE_WINDOW_SECONDS``. The log gets at most three entries per client and window: the first
failure, the moment the client reaches ``VINEX_AUTH_FAILURE_LIMIT`` (from then on it is refused before any
key is looked up), and, once the window is over, a summary of how many failures the first two entries did
not account for (``failures_summarise``, a scheduler job).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from vinex.audit.models import FailureTally
from vinex.audit.unit import Actor, audit_unit


def client_hash(address: str) -> str:
    """A keyed digest of a client address (never stored in clear)."""
    key = hashlib.sha256(f"vinex auth-failure client v1:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()


def _window_start(now: datetime) -> datetime:
    seconds = settings.VINEX_AUTH_FAILURE_WINDOW_SECONDS
    return datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, tz=UTC)


def _actor(client: str) -> Actor:
    return Actor.public("client", client)


def failures_exceeded(*, kind: str, client: str, now: datetime | None = None) -> bool:
    """Whether ``client`` has reached the failure limit for ``kind`` in the current window."""
    start = _window_start(now or timezone.now())
    return FailureTally.objects.filter(kind=kind, client=client, window_start=start,
                                       failures__gte=settings.VINEX_AUTH_FAILURE_LIMIT).exists()


def failure_record(*, kind: str, client: str, object_id: str = "", now: datetime | None = None) -> int:
    """Count one failure of ``kind`` by ``client``; writes an audit entry only for the first failure of the
    window and for the one that reaches the limit. Returns the window's count so far."""
    start = _window_start(now or timezone.now())
    limit = settings.VINEX_AUTH_FAILURE_LIMIT
    with audit_unit(actor=_actor(client)) as unit:
        count = _count(kind, client, start)
        if count == 1:
            unit.add("login_failed", kind, object_id, outcome="denied",
                     purpose="first failed attempt from this client in this window")
        elif count == limit:
            unit.add("login_failed", kind, object_id, outcome="rate_limited",
                     purpose=f"{limit} failed attempts: refused until the window ends")
        if count in (1, limit):
            FailureTally.objects.filter(kind=kind, client=client, window_start=start).update(recorded=count)
    return count


def _count(kind: str, client: str, start: datetime) -> int:
    rows = FailureTally.objects.filter(kind=kind, client=client, window_start=start)
    if not rows.update(failures=F("failures") + 1):
        try:
            with transaction.atomic():
                FailureTally.objects.create(kind=kind, client=client, window_start=start, failures=1)
        except IntegrityError:  # another request created it first
            rows.update(failures=F("failures") + 1)
    return rows.values_list("failures", flat=True).get()


def failures_summarise(*, now: datetime) -> int:
    """Write one summary entry per client and finished window for the failures not yet in the log, and drop
    the finished windows' tallies. Returns how many summaries were written."""
    finished = _window_start(now)
    written = 0
    for tally in FailureTally.objects.filter(window_start__lt=finished).order_by("window_start", "pk"):
        with audit_unit(actor=_actor(tally.client)) as unit:
            if tally.failures > tally.recorded:
                end = tally.window_start + timedelta(seconds=settings.VINEX_AUTH_FAILURE_WINDOW_SECONDS)
                unit.add("login_failed", tally.kind, "", outcome="summary",
                         purpose=f"{tally.failures} failed attempts from {tally.window_start:%Y-%m-%d %H:%M} "
                                 f"to {end:%H:%M} UTC")
                written += 1
            tally.delete()
    return written
