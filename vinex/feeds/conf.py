"""Settings of the feeds app, read from the environment (imported by vinex.settings)."""

from __future__ import annotations

from vinex.core.config import env_float, env_int

# A snapshot is held for review when it would release more than this share of a facility's population
# and at least VINEX_ROSTER_MIN_RELEASES people (one bulk update once sent ~8,000 false alerts).
VINEX_ROSTER_MAX_RELEASE_SHARE = env_float("VINEX_ROSTER_MAX_RELEASE_SHARE", default=0.10)
VINEX_ROSTER_MIN_RELEASES = env_int("VINEX_ROSTER_MIN_RELEASES", default=20)
# Held when more than this share of rows fails validation.
VINEX_ROSTER_MAX_ERROR_SHARE = env_float("VINEX_ROSTER_MAX_ERROR_SHARE", default=0.05)
# Held when the row count differs from the median of the last VINEX_ROSTER_TREND_WINDOW applied snapshots
# by more than this share (only once the facility holds at least VINEX_ROSTER_TREND_MIN_ROWS people).
VINEX_ROSTER_TREND_TOLERANCE = env_float("VINEX_ROSTER_TREND_TOLERANCE", default=0.25)
VINEX_ROSTER_TREND_WINDOW = env_int("VINEX_ROSTER_TREND_WINDOW", default=5)
VINEX_ROSTER_TREND_MIN_ROWS = env_int("VINEX_ROSTER_TREND_MIN_ROWS", default=20)
# Largest roster body or file accepted (a 1,000,000-row roster is about 100 MB).
VINEX_ROSTER_MAX_BYTES = env_int("VINEX_ROSTER_MAX_BYTES", default=1024 * 1024 * 1024)
# How many row errors a snapshot keeps and reports (the count is always complete).
VINEX_ROSTER_MAX_REPORTED_ERRORS = env_int("VINEX_ROSTER_MAX_REPORTED_ERRORS", default=1000)

# Feed health: a facility is silent when nothing arrived for twice its expected cadence.
VINEX_FEED_DEFAULT_CADENCE_SECONDS = env_int("VINEX_FEED_DEFAULT_CADENCE_SECONDS", default=24 * 3600)

# Pull connectors: retry a failed fetch after base × 2^failures seconds, never later than its interval.
VINEX_CONNECTOR_RETRY_BASE_SECONDS = env_int("VINEX_CONNECTOR_RETRY_BASE_SECONDS", default=60)
VINEX_CONNECTOR_TIMEOUT_SECONDS = env_int("VINEX_CONNECTOR_TIMEOUT_SECONDS", default=60)
# Files in a drop folder changed more recently than this are still being written and wait.
VINEX_CONNECTOR_SETTLE_SECONDS = env_int("VINEX_CONNECTOR_SETTLE_SECONDS", default=10)
# Pushed events get the roster's false-release rule (the two settings above) over a sliding window of
# this many seconds per agency: past it, release notifications are held for review.
VINEX_PUSH_RELEASE_WINDOW_SECONDS = env_int("VINEX_PUSH_RELEASE_WINDOW_SECONDS", default=3600)
