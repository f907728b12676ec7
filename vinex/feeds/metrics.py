"""Prometheus metrics of feed health, read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vinex.feeds.selectors import feed_statuses


class FeedHealthCollector(Collector):
    """``vinex_feed_last_success_seconds`` and ``vinex_feed_stale`` per facility (label ``agency/code``)."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        silent = GaugeMetricFamily(
            "vinex_feed_last_success_seconds",
            "Seconds since a facility's feed last delivered an event or an applied roster snapshot",
            labels=["facility"],
        )
        stale = GaugeMetricFamily(
            "vinex_feed_stale", "1 when a facility's feed has been silent for more than twice its cadence",
            labels=["facility"],
        )
        for status in feed_statuses(now=now):
            silent.add_metric([status.label], status.seconds_silent(now))
            stale.add_metric([status.label], 1.0 if status.stale else 0.0)
        yield silent
        yield stale
