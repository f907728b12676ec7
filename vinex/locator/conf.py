"""Settings of the locator app, read from the environment (imported by vinex.settings)."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from vinex.core.config import env_int
from vinex.locator.rates import env_rate as _rate

# Searches per client address, and per browser session, e.g. "30/minute", "500/day".
VINEX_LOCATOR_RATE = _rate("VINEX_LOCATOR_RATE", "30/minute")
VINEX_LOCATOR_SESSION_RATE = _rate("VINEX_LOCATOR_SESSION_RATE", "20/minute")
# People released (or removed, or deceased) longer ago than this are never found.
VINEX_LOCATOR_RELEASED_DAYS = env_int("VINEX_LOCATOR_RELEASED_DAYS", default=60)
VINEX_LOCATOR_MINOR_AGE = env_int("VINEX_LOCATOR_MINOR_AGE", default=18)
# How long a search result's subject_ref may be used to register.
VINEX_SUBJECT_REF_MAX_AGE = env_int("VINEX_SUBJECT_REF_MAX_AGE", default=3600)
# Reverse proxies (load balancers) in front of vinex that append to X-Forwarded-For. With 0 the peer
# address is the client; with N the N-th address from the right of X-Forwarded-For is. Set it only to
# the number of proxies you run, or clients could choose their own address.
VINEX_TRUSTED_PROXY_HOPS = env_int("VINEX_TRUSTED_PROXY_HOPS", default=0)

# --- Abuse limits (issue: enumeration) --------------------------------------------------------------
# An IPv6 client is counted as its network of this prefix length (64: one home or server).
VINEX_IPV6_CLIENT_PREFIX = env_int("VINEX_IPV6_CLIENT_PREFIX", default=64)
if not 32 <= VINEX_IPV6_CLIENT_PREFIX <= 128:
    raise ImproperlyConfigured("VINEX_IPV6_CLIENT_PREFIX must be from 32 to 128")
# Searches by everyone together, and booking-number searches naming one agency; past either the
# operator is alerted (a warning in the log, and mail to VINEX_LOCATOR_ALERT_EMAILS).
VINEX_LOCATOR_GLOBAL_BUDGET = _rate("VINEX_LOCATOR_GLOBAL_BUDGET", "20000/hour")
VINEX_LOCATOR_AGENCY_BUDGET = _rate("VINEX_LOCATOR_AGENCY_BUDGET", "2000/hour")
VINEX_LOCATOR_ALERT_EMAILS = tuple(
    a.strip() for a in os.environ.get("VINEX_LOCATOR_ALERT_EMAILS", "").split(",") if a.strip())
# Phone-menu searches by every caller together (caller ID is forgeable, so per-number limits are not enough).
VINEX_IVR_SEARCH_BUDGET = _rate("VINEX_IVR_SEARCH_BUDGET", "2000/hour")
