"""Settings of registrations (rates, one-time codes, purge delay), read from the environment."""

from __future__ import annotations

from vinex.core.config import env_int
from vinex.locator.rates import env_rate as _rate

# New registrations per client address (web and API together).
VINEX_REGISTRATION_RATE = _rate("VINEX_REGISTRATION_RATE", "10/hour")
# One-time codes: lifetime, wrong guesses allowed per code, wait between sends, sends per contact.
VINEX_CODE_TTL_SECONDS = env_int("VINEX_CODE_TTL_SECONDS", default=600)
VINEX_CODE_MAX_ATTEMPTS = env_int("VINEX_CODE_MAX_ATTEMPTS", default=5)
VINEX_CODE_RESEND_SECONDS = env_int("VINEX_CODE_RESEND_SECONDS", default=60)
VINEX_CODE_MAX_SENDS = env_int("VINEX_CODE_MAX_SENDS", default=5)
# Contact data of a withdrawn registration is purged this many days later.
VINEX_PURGE_AFTER_DAYS = env_int("VINEX_PURGE_AFTER_DAYS", default=30)
# One-time codes to one phone or mailbox, and to the phones of one country (SMS pumping).
VINEX_CODE_DESTINATION_RATE = _rate("VINEX_CODE_DESTINATION_RATE", "10/day")
VINEX_CODE_COUNTRY_RATE = _rate("VINEX_CODE_COUNTRY_RATE", "300/hour")
