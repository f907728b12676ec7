from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def loopback_sources(settings: Any) -> None:
    """The replay servers listen on loopback, which connectors refuse unless told otherwise."""
    settings.VINEX_CONNECTOR_ALLOW_PRIVATE = True
    settings.VINEX_CONNECTOR_REQUEST_INTERVAL_SECONDS = 0
    settings.VINEX_CONNECTOR_SETTLE_SECONDS = 0
