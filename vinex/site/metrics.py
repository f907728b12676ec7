"""Prometheus metrics read from the database at scrape time, so every server process reports the
same numbers however many gunicorn workers and notification workers there are."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from django.db.models import Count
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vinex.custody.models import CustodyEvent
from vinex.feeds.metrics import FeedHealthCollector
from vinex.notify.models import Notification
from vinex.privacy.metrics import DisclosureDenialCollector


class OutboxCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        by_status = GaugeMetricFamily(
            "vinex_notifications", "Notifications by channel and status", labels=["channel", "status"]
        )
        rows = Notification.objects.values_list("channel", "status").annotate(n=Count("id")).order_by()
        for channel, status, count in rows:
            by_status.add_metric([channel, status], count)
        yield by_status
        events = GaugeMetricFamily("vinex_custody_events", "Custody events recorded, by source", labels=["source"])
        for source, count in CustodyEvent.objects.values_list("source").annotate(n=Count("id")).order_by():
            events.add_metric([source], count)
        yield events


@cache
def registry() -> CollectorRegistry:
    reg = CollectorRegistry()
    reg.register(OutboxCollector())
    reg.register(FeedHealthCollector())
    reg.register(DisclosureDenialCollector())
    return reg
