from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.feeds.connectors.replay import ReplayServer


@pytest.fixture(autouse=True)
def loopback_sources(settings: Any) -> None:
    """The replay servers listen on loopback, which connectors refuse unless told otherwise."""
    settings.VINEX_CONNECTOR_ALLOW_PRIVATE = True
    settings.VINEX_CONNECTOR_REQUEST_INTERVAL_SECONDS = 0
    settings.VINEX_CONNECTOR_SETTLE_SECONDS = 0


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    """A loopback HTTP server replaying a vendor's answers."""
    replay = ReplayServer()
    yield replay
    replay.close()
