"""Prometheus metrics of the disclosure policy, read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Sum
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from vinex.privacy.models import DisclosureDenial


class DisclosureDenialCollector(Collector):
    """``vinex_disclosure_denied_records_total`` by owning agency and purpose (no person, no partner detail)."""

    def collect(self) -> Iterator[Metric]:
        denied = CounterMetricFamily(
            "vinex_disclosure_denied_records",
            "Records a sharing policy (or protection) withheld from partner agencies",
            labels=["agency", "purpose"],
        )
        rows = (DisclosureDenial.objects.values_list("owner__code", "purpose").annotate(records=Sum("records"))
                .order_by())
        for agency, purpose, records in rows:
            denied.add_metric([agency, purpose], records or 0)
        yield denied
