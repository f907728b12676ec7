"""Settings of the feeds app, read from the environment (imported by vinex.settings)."""

from __future__ import annotations

import ipaddress
import os

from django.core.exceptions import ImproperlyConfigured

from vinex.core.config import env_bool, env_float, env_int


def _env_networks(name: str) -> tuple[str, ...]:
    """Comma-separated CIDR networks (checked here, so a typo stops the start rather than a fetch)."""
    raw = [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]
    try:
        return tuple(str(ipaddress.ip_network(part, strict=False)) for part in raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be comma-separated networks such as 10.8.0.0/16") from None


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
# Largest roster body or file accepted: a 1,000,000-row CSV roster is about 100 MB, the same as a JSON list
# about 200 MB. Uploads are streamed to disk and parsed in bounded memory, but the disk copy and the columns
# still grow with the size.
VINEX_ROSTER_MAX_BYTES = env_int("VINEX_ROSTER_MAX_BYTES", default=256 * 1024 * 1024)
# One roster upload at a time per host; another arriving meanwhile is answered 503 with this Retry-After.
VINEX_ROSTER_RETRY_AFTER_SECONDS = env_int("VINEX_ROSTER_RETRY_AFTER_SECONDS", default=10)
# How many row errors a snapshot keeps and reports (the count is always complete).
VINEX_ROSTER_MAX_REPORTED_ERRORS = env_int("VINEX_ROSTER_MAX_REPORTED_ERRORS", default=1000)

# Overload: an event request that waits longer than this for its server process's turn to record is
# answered 503 with Retry-After (seconds) instead of queueing without bound; nothing of it is written, so a
# client that sends it again after Retry-After loses nothing.
VINEX_INGEST_MAX_WAIT_SECONDS = env_float("VINEX_INGEST_MAX_WAIT_SECONDS", default=1.0)
VINEX_INGEST_RETRY_AFTER_SECONDS = env_int("VINEX_INGEST_RETRY_AFTER_SECONDS", default=1)

# Feed health: a facility is silent when nothing arrived for twice its expected cadence.
VINEX_FEED_DEFAULT_CADENCE_SECONDS = env_int("VINEX_FEED_DEFAULT_CADENCE_SECONDS", default=24 * 3600)

# Pull connectors: retry a failed fetch after base × 2^failures seconds, never later than its interval.
VINEX_CONNECTOR_RETRY_BASE_SECONDS = env_int("VINEX_CONNECTOR_RETRY_BASE_SECONDS", default=60)
VINEX_CONNECTOR_TIMEOUT_SECONDS = env_int("VINEX_CONNECTOR_TIMEOUT_SECONDS", default=60)
# Files in a drop folder changed more recently than this are still being written and wait.
VINEX_CONNECTOR_SETTLE_SECONDS = env_int("VINEX_CONNECTOR_SETTLE_SECONDS", default=10)

# Vendor connectors (Zuercher Portal, JailTracker, exports, SFTP). Addresses on private, loopback or
# link-local networks are refused (a connector must not become a way into the hosting network) unless
# VINEX_CONNECTOR_ALLOW_PRIVATE is on, or the address falls in VINEX_CONNECTOR_ALLOWED_NETWORKS
# (comma-separated CIDRs, e.g. an agency gateway reached over a VPN).
VINEX_CONNECTOR_ALLOW_PRIVATE = env_bool("VINEX_CONNECTOR_ALLOW_PRIVATE", default=False)
VINEX_CONNECTOR_ALLOWED_NETWORKS = _env_networks("VINEX_CONNECTOR_ALLOWED_NETWORKS")
# Pause between two requests of one fetch (the pages of a vendor portal): a polite client.
VINEX_CONNECTOR_REQUEST_INTERVAL_SECONDS = env_float("VINEX_CONNECTOR_REQUEST_INTERVAL_SECONDS", default=1.0)
# Largest answer accepted for one page of a vendor portal.
VINEX_CONNECTOR_MAX_PAGE_BYTES = env_int("VINEX_CONNECTOR_MAX_PAGE_BYTES", default=32 * 1024 * 1024)

# Pushed events get the roster's false-release rule (VINEX_ROSTER_MIN_RELEASES and
# VINEX_ROSTER_MAX_RELEASE_SHARE) over a sliding window of this many seconds per
# agency: past it, release notifications are held for review.
VINEX_PUSH_RELEASE_WINDOW_SECONDS = env_int("VINEX_PUSH_RELEASE_WINDOW_SECONDS", default=3600)
