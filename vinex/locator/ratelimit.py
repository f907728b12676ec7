"""Fixed-window rate limits shared by every server process (the counters live in the database).

Call ``rate_limit_check`` where a limit applies; it counts the hit and says whether to refuse.
Keys are stored as keyed hashes, so the table never holds a client address or session id.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest

from vinex.locator.models import RateCounter
from vinex.locator.rates import parse_rate

# Expired windows are swept now and then rather than on every hit, to keep a hit to two statements.
_SWEEP_PROBABILITY = 0.01


@dataclass(frozen=True)
class RetryAfter:
    """The limit is reached; the client may try again after ``seconds``."""

    seconds: int


def hash_key(value: str, *, purpose: str = "ratelimit") -> str:
    """A keyed digest of ``value`` (an address, a session id) that cannot be reversed without SECRET_KEY."""
    key = hashlib.sha256(f"vinex {purpose} v1:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def rate_limit_check(*, key: str, rate: str, now: float | None = None) -> RetryAfter | None:
    """Count one hit on ``key``; None while within ``rate`` (e.g. ``"30/minute"``), else when to retry."""
    limit, seconds = parse_rate(rate)
    now = time.time() if now is None else now
    window = int(now // seconds) * seconds
    digest = hash_key(key)
    hits = _hit(digest, window, seconds)
    if hits <= limit:
        return None
    return RetryAfter(max(1, int(window + seconds - now + 0.999)))


def _hit(digest: str, window: int, seconds: int) -> int:
    with transaction.atomic():
        counter = RateCounter.objects.filter(key=digest, window_start=window)
        if not counter.update(hits=F("hits") + 1):
            try:
                with transaction.atomic():
                    expires = datetime.fromtimestamp(window + seconds, tz=UTC)
                    RateCounter.objects.create(key=digest, window_start=window, hits=1, expires_at=expires)
                    _maybe_sweep()
                    return 1
            except IntegrityError:  # another process created it a moment ago
                counter.update(hits=F("hits") + 1)
        return int(counter.values_list("hits", flat=True).get())


def _maybe_sweep() -> None:
    if random.random() < _SWEEP_PROBABILITY:  # noqa: S311 - not security relevant
        RateCounter.objects.filter(expires_at__lt=datetime.now(tz=UTC) - timedelta(minutes=1)).delete()


def client_address(request: HttpRequest) -> str:
    """The address limits apply to: the peer, or behind ``VINEX_TRUSTED_PROXY_HOPS`` proxies the client they saw."""
    hops = settings.VINEX_TRUSTED_PROXY_HOPS
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if hops > 0 and len(forwarded) >= hops:
        return forwarded[-hops]
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def address_limit(request: HttpRequest, *, scope: str, rate: str) -> RetryAfter | None:
    """Count one hit of ``scope`` for the client's address (shared by the web pages and the API)."""
    return rate_limit_check(key=f"{scope}:ip:{client_address(request)}", rate=rate)


def request_limits(request: HttpRequest, *, scope: str, address_rate: str, session_rate: str) -> RetryAfter | None:
    """Apply the per-address and (when the client has a session) per-session limits of ``scope``."""
    refused = address_limit(request, scope=scope, rate=address_rate)
    session = getattr(request, "session", None)
    session_key = session.session_key if session is not None else None
    if session_key:
        refused = rate_limit_check(key=f"{scope}:session:{session_key}", rate=session_rate) or refused
    return refused
