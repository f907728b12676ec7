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
