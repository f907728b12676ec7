"""Settings of the privacy app, read from the environment (imported by vinex.settings)."""

from __future__ import annotations

from vinex.locator.rates import env_rate as _rate

# Reports of wrong data per client address (web and API together).
VINEX_DATA_REPORT_RATE = _rate("VINEX_DATA_REPORT_RATE", "5/hour")
