"""The registry ``/metrics`` serves, assembled from what each app counts.

Why counters kept as work happens rather than counted at scrape time: the old gauges counted the event
and notification tables with ``COUNT(*) … GROUP BY`` at every scrape, which grows with the tables (and
holds a read over them) however rarely anything changes. Why prometheus_client's multiprocess mode
rather than summary rows in the database: counting then costs a request a few microseconds and no
write, so ingest gains no extra statement, commit or row lock that concurrent batches would queue
for; the price is that counters live per host (Prometheus adds hosts up) and start again from zero
when a host's processes all restart, which Prometheus's ``rate``/``increase`` expect of counters.

What is read from the database at scrape time is small and indexed: the feeds' health (one row per
facility) and the age of the oldest waiting message (one index entry per waiting status). A scrape
therefore takes the same few queries with ten rows or ten million.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from vinex.feeds.metrics import FeedHealthCollector
from vinex.notify.metrics import OutboxCollector, ProviderCollector
from vinex.pipeline import metrics as _pipeline_metrics  # noqa: F401  (defines the event counters)
from vinex.privacy import metrics as _privacy_metrics  # noqa: F401  (defines the refusal counter)


class _ThisProcess(Collector):
    """This process's own counters, when no counter directory is shared (``VINEX_METRICS_DIR=""``)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


@cache
def registry() -> CollectorRegistry:
    reg = CollectorRegistry()
    if settings.VINEX_METRICS_DIR:
        MultiProcessCollector(reg, path=settings.VINEX_METRICS_DIR)
    else:
        reg.register(_ThisProcess())
    reg.register(OutboxCollector())
    reg.register(ProviderCollector())
    reg.register(FeedHealthCollector())
    return reg
