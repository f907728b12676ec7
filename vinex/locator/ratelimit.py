"""Rate limits shared by every server process (the counters live in the database).

Call ``rate_limit_check`` where a limit applies; it counts the hit and says whether to refuse.
Hits are counted per fixed window, but a limit is checked against a sliding window: the previous
window's hits weighted by how much of it still lies within the last period. A fixed window alone
would let twice the limit through around each boundary, and would forget a client's burst the
moment a new window began.
Keys are stored as keyed hashes, so the table never holds a client address or session id.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest

from vinex.locator.models import RateCounter
from vinex.locator.rates import parse_rate

# Expired windows are swept now and then rather than on every hit, to keep a hit to two statements.
_SWEEP_PROBABILITY = 0.01
logger = logging.getLogger(__name__)


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
    current, previous = _hit(hash_key(key), window, seconds)
    elapsed = now - window
    # The sliding estimate previous * (seconds - elapsed) / seconds + current, kept in whole numbers.
    if previous * (seconds - elapsed) + current * seconds <= limit * seconds:
        return None
    return RetryAfter(max(1, math.ceil(_accepted_again_at(limit, seconds, window, current, previous) - now)))


def _accepted_again_at(limit: int, seconds: int, window: int, current: int, previous: int) -> float:
    """When one more hit would be accepted, if none arrive meanwhile (refused hits count too)."""
    if current < limit:  # this window has room once the previous window's weight has faded enough
        return window + seconds * (1 - (limit - current - 1) / previous)
    # This window is spent: in the next one, it is the previous window that fades.
    return window + seconds + seconds * (1 - (limit - 1) / current)


def _hit(digest: str, window: int, seconds: int) -> tuple[int, int]:
    """Count a hit in ``window``; the hits of this window and of the one before it."""
    with transaction.atomic():
        counter = RateCounter.objects.filter(key=digest, window_start=window)
        if not counter.update(hits=F("hits") + 1):
            try:
                with transaction.atomic():
                    # Kept through the next window too, where it is the previous one.
                    expires = datetime.fromtimestamp(window + 2 * seconds, tz=UTC)
                    RateCounter.objects.create(key=digest, window_start=window, hits=1, expires_at=expires)
                    _maybe_sweep()
            except IntegrityError:  # another process created it a moment ago
                counter.update(hits=F("hits") + 1)
        hits = dict(RateCounter.objects.filter(key=digest, window_start__in=(window, window - seconds))
                    .values_list("window_start", "hits"))
    return hits.get(window, 0), hits.get(window - seconds, 0)


def _maybe_sweep() -> None:
    if random.random() < _SWEEP_PROBABILITY:  # noqa: S311 - not security relevant
        RateCounter.objects.filter(expires_at__lt=datetime.now(tz=UTC) - timedelta(minutes=1)).delete()


def client_address(request: HttpRequest) -> str:
    """The client limits and abuse checks apply to: the peer, or behind ``VINEX_TRUSTED_PROXY_HOPS`` proxies
    the client they saw; an IPv6 client as its whole network (``VINEX_IPV6_CLIENT_PREFIX``, a /64)."""
    hops = settings.VINEX_TRUSTED_PROXY_HOPS
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if hops > 0 and len(forwarded) >= hops:
        return client_network(forwarded[-hops])
    return client_network(str(request.META.get("REMOTE_ADDR") or "unknown"))


def client_network(address: str) -> str:
    """``address`` as the unit a client is counted in: an IPv6 address stands for its /64 (one home or
    one server gets a whole /64, so counting single addresses would give an attacker 2^64 of them)."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/{settings.VINEX_IPV6_CLIENT_PREFIX}", strict=False))
    return str(ip)


def address_limit(request: HttpRequest, *, scope: str, rate: str) -> RetryAfter | None:
    """Count one hit of ``scope`` for the client's address (shared by the web pages and the API)."""
    return rate_limit_check(key=f"{scope}:ip:{client_address(request)}", rate=rate)


def request_limits(request: HttpRequest, *, scope: str, address_rate: str, session_rate: str) -> RetryAfter | None:
    """Apply the global budget, the per-address and (when the client has a session) per-session limits of
    ``scope``.

    A session the client did not present (its cookie was dropped, so this request began a new one) is
    counted in one bucket per client address as well: dropping the cookie does not reset the limit.
    """
    refused = budget_check(name="global", rate=settings.VINEX_LOCATOR_GLOBAL_BUDGET, scope=scope)
    refused = address_limit(request, scope=scope, rate=address_rate) or refused
    session = getattr(request, "session", None)
    session_key = session.session_key if session is not None else None
    if session_key:
        refused = rate_limit_check(key=f"{scope}:session:{session_key}", rate=session_rate) or refused
        if request.COOKIES.get(settings.SESSION_COOKIE_NAME) != session_key:
            fresh = f"{scope}:session:new:{client_address(request)}"
            refused = rate_limit_check(key=fresh, rate=session_rate) or refused
    return refused


def budget_check(*, name: str, rate: str, scope: str = "locator") -> RetryAfter | None:
    """Count one search against a shared budget (``global``, ``agency:<code>``, ``ivr``): past it,
    refuse, and alert the operator once per budget period."""
    refused = rate_limit_check(key=f"{scope}:budget:{name}", rate=rate)
    period = parse_rate(rate).seconds
    if refused and rate_limit_check(key=f"{scope}:budget-alert:{name}", rate=f"1/{period}second") is None:
        budget_alert(name=f"{scope} {name}", rate=rate)
    return refused


def budget_alert(*, name: str, rate: str) -> None:
    """Tell the operator a search budget was crossed (a script may be counting through the population)."""
    logger.warning("search budget crossed", extra={"budget": name, "rate": rate})
    recipients = settings.VINEX_LOCATOR_ALERT_EMAILS
    if recipients:
        send_mail(
            subject=f"vinex: the {name} search budget was crossed",
            message=(f"More searches than the {name} budget allows ({rate}) arrived. Searches over it are refused "
                     "until the period passes. Someone may be trying to list the people in custody; look at "
                     "the audit log and the web server's logs."),
            from_email=None, recipient_list=list(recipients), fail_silently=True,
        )
