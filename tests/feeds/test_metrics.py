from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest

from vinex.custody.models import Agency, Facility
from vinex.feeds.metrics import FeedHealthCollector
from vinex.feeds.models import FacilityFeed

pytestmark = pytest.mark.django_db


def scrape() -> str:
    registry = CollectorRegistry()
    registry.register(FeedHealthCollector())
    return generate_latest(registry).decode()


def test_seconds_since_last_success_and_staleness_per_facility(agency: Agency) -> None:
    now = timezone.now()
    FacilityFeed.objects.create(facility=Facility.objects.get(code="main"), last_snapshot_at=now - timedelta(hours=1))
    FacilityFeed.objects.create(facility=Facility.objects.get(code="annex"), last_event_at=now - timedelta(days=3))
    text = scrape()
    lines = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines() if line.startswith("vinex_")}
    assert 3600 <= lines['vinex_feed_last_success_seconds{facility="pine/main"}'] < 3700
    assert lines['vinex_feed_last_success_seconds{facility="pine/annex"}'] >= 3 * 86400
    assert lines['vinex_feed_stale{facility="pine/main"}'] == 0.0
    assert lines['vinex_feed_stale{facility="pine/annex"}'] == 1.0
