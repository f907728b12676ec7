"""Settings of the privacy app, read from the environment (imported by vinex.settings)."""

from __future__ import annotations

from vinex.core.config import env_int
from vinex.locator.rates import env_rate as _rate

# Message bodies are erased this long after sending; the record that they went out stays.
VINEX_NOTIFICATION_BODY_DAYS = env_int("VINEX_NOTIFICATION_BODY_DAYS", default=90)
# Retention of other personal data (vinex.privacy.retention; the table is in the README).
VINEX_UNVERIFIED_CONTACT_DAYS = env_int("VINEX_UNVERIFIED_CONTACT_DAYS", default=30)
VINEX_CASE_NUMBER_DAYS = env_int("VINEX_CASE_NUMBER_DAYS", default=90)
VINEX_HOTLINE_DATA_DAYS = env_int("VINEX_HOTLINE_DATA_DAYS", default=90)
VINEX_DATA_REPORT_DAYS = env_int("VINEX_DATA_REPORT_DAYS", default=365)
# Registrations that look like tracking wait for a privacy officer: one contact following more than
# this many other people, more registrations than this from one address in 24 hours, or a client that
# looked up more than this many different people in the locator in the 24 hours before registering.
VINEX_ABUSE_MAX_PEOPLE_PER_CONTACT = env_int("VINEX_ABUSE_MAX_PEOPLE_PER_CONTACT", default=5)
VINEX_ABUSE_MAX_REGISTRATIONS_PER_ADDRESS = env_int("VINEX_ABUSE_MAX_REGISTRATIONS_PER_ADDRESS", default=10)
VINEX_ABUSE_MAX_PEOPLE_LOOKED_UP = env_int("VINEX_ABUSE_MAX_PEOPLE_LOOKED_UP", default=20)

# Reports of wrong data per client address (web and API together).
VINEX_DATA_REPORT_RATE = _rate("VINEX_DATA_REPORT_RATE", "5/hour")
