"""Provider back-pressure, shared by every worker process through the ``ProviderBreaker`` table.

Two reasons to hold a provider's messages back, both kept per provider account:

- **The provider asked us to wait** (HTTP 429 with ``Retry-After``): nothing goes to that account until
  the time it named. The messages stay queued; waiting is not a failed attempt.
- **The provider is failing** (5xx, timeouts, refused connections): after ``VINEX_BREAKER_FAILURES``
  consecutive faults the breaker opens, sends pause for ``VINEX_BREAKER_COOLDOWN_SECONDS`` and the
  operator is alerted; then one worker sends a single probe (half-open). A probe that goes through
  closes the breaker (and the operator hears of the recovery); one that fails opens it again.

The state is a row per provider, so any number of workers on any number of machines pause together.
Workers read the whole (tiny) table once per round and write it only when something changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.dispatch import Signal

from vinex.core.database import write_turn
from vinex.notify.models import BreakerState, ProviderBreaker

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class ProviderHealth:
    """What a worker needs to know of one provider at the start of a round."""

    state: str
    consecutive_failures: int
    paused_until: datetime | None
    backoff_until: datetime | None

    @property
    def clean(self) -> bool:
        return self.state == BreakerState.CLOSED and self.consecutive_failures == 0

    def hold_until(self, now: datetime) -> datetime | None:
        """Until when no message may go to this provider, or None when one may (perhaps as the probe)."""
        waits = [self.backoff_until] if self.backoff_until and self.backoff_until > now else []
        if self.state != BreakerState.CLOSED and self.paused_until and self.paused_until > now:
            waits.append(self.paused_until)
        return max(waits, default=None)


def providers_health() -> dict[str, ProviderHealth]:
    """Every provider with a recorded history; a provider absent from it is healthy."""
    return {row.provider: ProviderHealth(row.state, row.consecutive_failures, row.paused_until, row.backoff_until)
            for row in ProviderBreaker.objects.all()}


def providers_held(*, now: datetime) -> dict[str, datetime]:
    """Providers that must not be sent to now, and until when."""
    held = {provider: health.hold_until(now) for provider, health in providers_health().items()}
    return {provider: until for provider, until in held.items() if until is not None}


def provider_probe_take(*, provider: str, now: datetime) -> bool:
    """Claim the one probe of an open breaker whose pause is over; only one worker wins it. The probe holds
    the provider for another cool-down, so a probe lost with its worker is retried after that."""
    cooldown = timedelta(seconds=settings.VINEX_BREAKER_COOLDOWN_SECONDS)
    with write_turn(priority=True):
        won = ProviderBreaker.objects.filter(provider=provider, state__in=[BreakerState.OPEN, BreakerState.HALF_OPEN],
                                             paused_until__lte=now).update(state=BreakerState.HALF_OPEN,
                                                                           paused_until=now + cooldown)
    return bool(won)


def provider_backoff(*, provider: str, seconds: float, now: datetime, error: str) -> datetime:
    """The provider asked us to wait ``seconds``: hold the account until then (never shortening a hold)."""
    until = now + timedelta(seconds=max(seconds, 0.0))
    with write_turn(priority=True), transaction.atomic():
        row, _ = ProviderBreaker.objects.select_for_update().get_or_create(provider=provider)
        if row.backoff_until is None or row.backoff_until < until:
            row.backoff_until = until
        row.last_error = error[:300]
        row.save(update_fields=["backoff_until", "last_error", "updated_at"])
    logger.warning("provider asked to slow down", extra={"provider": provider, "seconds": seconds})
    return row.backoff_until or until


def provider_fault(*, provider: str, now: datetime, error: str) -> datetime | None:
    """Count one provider fault; returns until when the provider is paused if this fault opened the breaker."""
    cooldown = timedelta(seconds=settings.VINEX_BREAKER_COOLDOWN_SECONDS)
    with write_turn(priority=True), transaction.atomic():
        row, _ = ProviderBreaker.objects.select_for_update().get_or_create(provider=provider)
        row.consecutive_failures += 1
        row.last_error = error[:300]
        was = row.state
        opens = was == BreakerState.HALF_OPEN or (
            was == BreakerState.CLOSED and row.consecutive_failures >= settings.VINEX_BREAKER_FAILURES)
        if opens:
            row.state, row.paused_until = BreakerState.OPEN, now + cooldown
            row.opened_at = row.opened_at if was == BreakerState.HALF_OPEN else now
        row.save()
        if opens and was == BreakerState.CLOSED:
            _operator_alert(provider, *_opened_text(row))
    if opens:
        logger.warning("provider breaker open", extra={"provider": provider, "failures": row.consecutive_failures,
                                                       "until": row.paused_until.isoformat() if row.paused_until
                                                       else ""})
        return row.paused_until
    return None


def provider_success(*, provider: str, now: datetime) -> bool:
    """A message went through: the breaker closes. Returns True when this ended an outage."""
    with write_turn(priority=True), transaction.atomic():
        row = ProviderBreaker.objects.select_for_update().filter(provider=provider).first()
        if row is None or (row.state == BreakerState.CLOSED and row.consecutive_failures == 0):
            return False
        recovered = row.state != BreakerState.CLOSED
        opened_at = row.opened_at
        row.state, row.consecutive_failures, row.paused_until, row.opened_at = BreakerState.CLOSED, 0, None, None
        row.save()
        if recovered:
            _operator_alert(provider, *_recovered_text(provider, opened_at, now))
    if recovered:
        logger.warning("provider breaker closed", extra={"provider": provider})
    return recovered


# Sent when a provider's sends pause or resume, with ``provider``, ``subject_line`` and ``body``. Who hears
# of it is not notify's to know: the feeds app delivers it to the vinex operator's alert recipients (not to
# an agency's feed contacts, for whom a provider outage means nothing they can act on).
provider_alert = Signal()


def _operator_alert(provider: str, subject: str, body: str) -> None:
    logger.warning(subject, extra={"provider": provider})
    provider_alert.send(sender=ProviderBreaker, provider=provider, subject_line=subject, body=body)


def _label(provider: str) -> str:
    # An account id is not a secret, but an alert needs no more than its kind and its last characters.
    kind, _, rest = provider.partition(":")
    return f"{kind} ({rest[-6:]})" if rest else kind


def _opened_text(row: ProviderBreaker) -> tuple[str, str]:
    subject = f"vinex: {_label(row.provider)} sends paused"
    body = (
        f"{_label(row.provider)} failed {row.consecutive_failures} times in a row (last: {row.last_error}).\n"
        f"vinex has paused sending through it and will try one message again at "
        f"{row.paused_until:%Y-%m-%d %H:%M:%S} UTC.\n\n"
        "Messages wait in the queue meanwhile; none is lost. Please check the provider's status and the "
        "credentials and network path to it.\n"
    )
    return subject, body


def _recovered_text(provider: str, opened_at: datetime | None, now: datetime) -> tuple[str, str]:
    since = f" since {opened_at:%Y-%m-%d %H:%M:%S} UTC" if opened_at else ""
    return (f"vinex: {_label(provider)} sends resumed",
            f"{_label(provider)} is sending again at {now:%Y-%m-%d %H:%M:%S} UTC, after a pause{since}.\n"
            "The messages that waited are going out now.\n")
