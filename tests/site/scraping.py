"""Reading /metrics as Prometheus does: with the scrape token, parsed into samples."""

from __future__ import annotations

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

SCRAPE_TOKEN = "scrape-token-for-tests-0123456789"


def metrics_text() -> str:
    response = Client(headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"}).get("/metrics")
    assert response.status_code == 200
    return response.content.decode()


def sample(name: str, **labels: str) -> float:
    """The value of one sample on /metrics (0 when it is not there yet: a counter not yet moved)."""
    for family in text_string_to_metric_families(metrics_text()):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


@pytest.fixture
def scrape_token(settings: pytest.FixtureRequest) -> str:
    settings.VINEX_METRICS_TOKEN = SCRAPE_TOKEN  # type: ignore[attr-defined]
    return SCRAPE_TOKEN
