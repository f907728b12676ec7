"""Settings of the privacy app, read from the environment (imported by vinex.settings)."""

from __future__ import annotations

import os
import zoneinfo

from django.core.exceptions import ImproperlyConfigured

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

# Misuse detection over the audit log (vinex.privacy.misuse; the rules are explained in the README).
# A staff account (or a partner agency) that reads more different people in one UTC day than both the floor
# and FACTOR times its usual day opens a case: for staff, the median busy day of its role's accounts (colleagues'
# days, today's included) over USUAL_DAYS; for a partner, the median of its own busy days before.
VINEX_MISUSE_STAFF_READS_FLOOR = env_int("VINEX_MISUSE_STAFF_READS_FLOOR", default=50)
VINEX_MISUSE_PARTNER_READS_FLOOR = env_int("VINEX_MISUSE_PARTNER_READS_FLOOR", default=500)
VINEX_MISUSE_USUAL_FACTOR = env_int("VINEX_MISUSE_USUAL_FACTOR", default=5)
VINEX_MISUSE_USUAL_DAYS = env_int("VINEX_MISUSE_USUAL_DAYS", default=28)
# A read of a person by an account outside the agency that holds them, this many hours or fewer before
# that agency released them.
VINEX_MISUSE_PRE_RELEASE_HOURS = env_int("VINEX_MISUSE_PRE_RELEASE_HOURS", default=72)
# Partner reads outside working hours (start inclusive, end exclusive, in this time zone) are unusual; this
# many in one day open a case.
VINEX_MISUSE_PARTNER_HOURS_START = env_int("VINEX_MISUSE_PARTNER_HOURS_START", default=6)
VINEX_MISUSE_PARTNER_HOURS_END = env_int("VINEX_MISUSE_PARTNER_HOURS_END", default=22)
VINEX_MISUSE_TIMEZONE = os.environ.get("VINEX_MISUSE_TIMEZONE", "America/New_York")
VINEX_MISUSE_PARTNER_NIGHT_READS = env_int("VINEX_MISUSE_PARTNER_NIGHT_READS", default=20)
if not 0 <= VINEX_MISUSE_PARTNER_HOURS_START < VINEX_MISUSE_PARTNER_HOURS_END <= 24:
    raise ImproperlyConfigured("VINEX_MISUSE_PARTNER_HOURS_START and _END must satisfy 0 <= start < end <= 24")
try:
    zoneinfo.ZoneInfo(VINEX_MISUSE_TIMEZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"VINEX_MISUSE_TIMEZONE is not a time zone: {VINEX_MISUSE_TIMEZONE!r}") from None
# Refused partner requests (sharing policy said no) for one partner in one UTC day.
VINEX_MISUSE_PARTNER_REFUSALS = env_int("VINEX_MISUSE_PARTNER_REFUSALS", default=10)
# How far back each scheduled scan looks (a rerun over the same hours opens no second case).
VINEX_MISUSE_SCAN_HOURS = env_int("VINEX_MISUSE_SCAN_HOURS", default=48)
