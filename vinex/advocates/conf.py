"""Settings of the advocates app, read from the environment (imported by vinex.settings)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from vinex.core.config import env_int
from vinex.locator.rates import env_rate as _rate

# A RELEASED, ESCAPED, TEMPORARY_RELEASE or REMOVED message neither delivered nor confirmed this many
# minutes after it was queued alerts the advocates of the organisations serving the victim.
VINEX_ESCALATION_MINUTES = env_int("VINEX_ESCALATION_MINUTES", default=30)
if not 1 <= VINEX_ESCALATION_MINUTES <= 7 * 24 * 60:
    raise ImproperlyConfigured("VINEX_ESCALATION_MINUTES must be between 1 and 10080 (a week)")
# Searches for a person to register, per advocate (the same exact-match rules as the public locator).
VINEX_ADVOCATE_SEARCH_RATE = _rate("VINEX_ADVOCATE_SEARCH_RATE", "60/hour")
