from __future__ import annotations

from typing import Any

import pytest

STAFF_ACCESS = "vinex.accounts.middleware.StaffAccessMiddleware"


@pytest.fixture(autouse=True)
def staff_access_installed(settings: Any) -> None:
    """Staff-access tests run with the gate right after django-otp's middleware, where vinex.settings installs it
    (test_settings checks that it does)."""
    if STAFF_ACCESS not in settings.MIDDLEWARE:
        middleware = list(settings.MIDDLEWARE)
        middleware.insert(middleware.index("django_otp.middleware.OTPMiddleware") + 1, STAFF_ACCESS)
        settings.MIDDLEWARE = middleware


@pytest.fixture(autouse=True)
def no_clock_drift_learning(settings: Any) -> None:
    """Tests that sign in twice within one 30-second step must use the app's next code (a code is good once).
    django-otp learns a phone's clock drift from each accepted code, and a code typed across a step boundary
    teaches it -1, which puts that next code outside the window. Real apps show the current code."""
    settings.OTP_TOTP_SYNC = False
