"""Counters of custody events by outcome and source, moved as each batch's outcomes are known.

Kept in the process (and the host's counter directory, ``vinex.core.metrics``), never counted from the
event table at scrape time: a scrape costs the same with ten events or ten million.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Sequence

from prometheus_client import Counter

from vinex.custody.ingest import IncomingEvent, ItemOutcome

EVENTS = Counter(
    "vinex_events", "Custody events received, by outcome (accepted, pending, duplicate, rejected) and source",
    labelnames=["outcome", "source"],
)


OVERLOADED = Counter(
    "vinex_ingest_overloaded", "Event requests refused with 503 and Retry-After because the server was at capacity",
)


def events_count(*, events: Sequence[IncomingEvent], outcomes: Sequence[ItemOutcome]) -> None:
    """Count each item's outcome under its source (api, roster, connector, correction, …)."""
    tally = Tally((o.status, str(e.source)) for e, o in zip(events, outcomes, strict=True))
    for (outcome, source), n in tally.items():
        EVENTS.labels(outcome=outcome, source=source).inc(n)


def events_rejected_count(*, source: str, n: int) -> None:
    """Items refused before they reach the use case (malformed JSON items on the API)."""
    if n:
        EVENTS.labels(outcome="rejected", source=source).inc(n)


def events_overloaded_count() -> None:
    """A request refused at capacity (503 with Retry-After): nothing of it was recorded."""
    OVERLOADED.inc()
