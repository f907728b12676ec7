"""What the notification worker did, as Prometheus metrics: attempts by channel and outcome, and how long
an event took to reach the provider. Counted where the worker records outcomes, kept in the process
(and the host's counter directory, ``vinex.core.metrics``); only the outbox's age is read at scrape
time, with one indexed lookup per waiting status.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vinex.custody.models import CustodyEvent
from vinex.notify.models import BreakerState, Notification, NotificationStatus, ProviderBreaker

ATTEMPTS = Counter(
    "vinex_notification_attempts",
    "Attempts to hand a message to its provider, by channel and outcome (sent, failed_transient — to be "
    "retried —, failed_permanent, suppressed)",
    labelnames=["channel", "outcome"],
)
DEFERRALS = Counter(
    "vinex_notification_deferrals",
    "Messages put back in the queue unsent because their provider asked us to wait (429) or its circuit "
    "breaker is open; not counted as attempts",
    labelnames=["channel", "reason"],
)
# From 50 ms (the goal: a victim told within a second) to an hour (a provider down, retries backing off).
HANDOFF_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
HANDOFF = Histogram(
    "vinex_event_to_handoff_seconds",
    "Seconds from a custody event's arrival to its message being handed to the provider",
    buckets=HANDOFF_BUCKETS,
)

_OUTCOME = {
    NotificationStatus.SENT: "sent",
    NotificationStatus.DELIVERED: "sent",
    NotificationStatus.FAILED_TRANSIENT: "failed_transient",
    NotificationStatus.FAILED_PERMANENT: "failed_permanent",
    NotificationStatus.SUPPRESSED: "suppressed",
}
# Rows a worker is still to take: queued ones, and transient failures once their retry is due.
WAITING = (NotificationStatus.QUEUED, NotificationStatus.FAILED_TRANSIENT)


def notification_attempts_count(*, recorded: Iterable[tuple[Notification, NotificationStatus, datetime | None]]
                                ) -> None:
    """Count what the worker wrote: (row, new status, when the provider took it, for sent rows).

    Each message about an event that was handed over also observes the event's time to hand-off; messages with no event
    (codes, confirmations) are not part of that promise.
    """
    handed: list[tuple[int, datetime]] = []
    received: dict[int, datetime] = {}
    for notification, status, handed_at in recorded:
        ATTEMPTS.labels(channel=notification.channel, outcome=_OUTCOME.get(status, str(status))).inc()
        if handed_at is not None and notification.event_id is not None:
            handed.append((notification.event_id, handed_at))
            # The worker's claim reads it with the row; rows from elsewhere are looked up below.
            if (arrived := getattr(notification, "event_received_at", None)) is not None:
                received[notification.event_id] = arrived
    if not handed:
        return
    unknown = {event_id for event_id, _ in handed} - received.keys()
    if unknown:
        received.update(CustodyEvent.objects.filter(pk__in=unknown).values_list("pk", "received_at"))
    for event_id, handed_at in handed:
        HANDOFF.observe(max(0.0, (handed_at - received[event_id]).total_seconds()))


def outbox_oldest_waiting(*, now: datetime) -> datetime | None:
    """When the longest-waiting due row became due: the first entry of the (status, next_attempt_at)
    index for each waiting status, so the cost does not depend on how many rows there are."""
    firsts = [
        Notification.objects.filter(status=status, next_attempt_at__lte=now).order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True).first()
        for status in WAITING
    ]
    return min((first for first in firsts if first is not None), default=None)


class OutboxCollector(Collector):
    """``vinex_outbox_oldest_queued_seconds``: 0 when nothing waits, so an alert can say "> 60"."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        oldest = outbox_oldest_waiting(now=now)
        gauge = GaugeMetricFamily(
            "vinex_outbox_oldest_queued_seconds",
            "Age of the oldest message due to be sent and not yet taken by a worker (queued or to retry)",
        )
        gauge.add_metric([], (now - oldest).total_seconds() if oldest is not None else 0.0)
        yield gauge


def notification_deferrals_count(*, outcomes: Iterable[tuple[str, str]]) -> None:
    """Count messages held back: (channel, why) — "throttled" for a 429, "paused" for a held provider."""
    for channel, why in outcomes:
        DEFERRALS.labels(channel=channel, reason="paused" if why.endswith("paused") else "throttled").inc()


_BREAKER_VALUE = {BreakerState.CLOSED: 0.0, BreakerState.HALF_OPEN: 0.5, BreakerState.OPEN: 1.0}


def _provider_label(provider: str) -> str:
    # The kind of provider and the end of the account or host, enough to tell two apart on a dashboard.
    kind, _, rest = provider.partition(":")
    return f"{kind}:{rest[-6:]}" if rest else kind


class ProviderCollector(Collector):
    """Provider back-pressure, read from the breaker table (one row per provider, so a scrape costs one
    small query): ``vinex_provider_breaker_state`` (0 closed, 0.5 half-open, 1 open) and
    ``vinex_provider_backoff_seconds`` (how long sends to the provider stay paused, 0 when they are not)."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        state = GaugeMetricFamily("vinex_provider_breaker_state",
                                  "Circuit breaker per provider: 0 closed, 0.5 half-open (probing), 1 open",
                                  labels=["provider"])
        backoff = GaugeMetricFamily("vinex_provider_backoff_seconds",
                                    "Seconds until sends to the provider resume (a 429's Retry-After or an open "
                                    "breaker); 0 when sending", labels=["provider"])
        failures = GaugeMetricFamily("vinex_provider_consecutive_failures",
                                     "Provider faults in a row (5xx, timeouts) since its last success",
                                     labels=["provider"])
        for row in ProviderBreaker.objects.all():
            label = _provider_label(row.provider)
            state.add_metric([label], _BREAKER_VALUE.get(BreakerState(row.state), 1.0))
            until = [t for t in (row.backoff_until, row.paused_until if row.state != BreakerState.CLOSED else None)
                     if t is not None]
            backoff.add_metric([label], max([0.0, *((t - now).total_seconds() for t in until)]))
            failures.add_metric([label], float(row.consecutive_failures))
        yield state
        yield backoff
        yield failures
