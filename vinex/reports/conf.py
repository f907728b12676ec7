"""Settings of the reports app, read from the environment (imported by vinex.settings)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from vinex.core.config import env_float

# A report is generated but marked "not publishable" (and cannot be approved) when more than this share
# of the quarter's events fails a data-quality check (late, before the booking, a contradictory history)
# or was rejected ...
VINEX_REPORT_MAX_PROBLEM_SHARE = env_float("VINEX_REPORT_MAX_PROBLEM_SHARE", default=0.05)
# ... or when the feeds were stale for more than this share of the quarter's facility-hours.
VINEX_REPORT_MAX_STALE_SHARE = env_float("VINEX_REPORT_MAX_STALE_SHARE", default=0.10)
for _name, _share in (("VINEX_REPORT_MAX_PROBLEM_SHARE", VINEX_REPORT_MAX_PROBLEM_SHARE),
                      ("VINEX_REPORT_MAX_STALE_SHARE", VINEX_REPORT_MAX_STALE_SHARE)):
    if not 0 <= _share <= 1:
        raise ImproperlyConfigured(f"{_name} must be between 0 and 1")
