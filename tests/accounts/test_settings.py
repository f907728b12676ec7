"""The project's settings install the staff gate, the MFA admin site and the CJIS limits."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin

from vinex.accounts import conf
from vinex.accounts.admin_site import VinexAdminSite


def test_the_staff_gate_runs_right_after_django_otp() -> None:
    # Read from the module: the tests' own fixture inserts the gate when it is missing.
    from vinex import settings as project

    middleware = project.MIDDLEWARE
    assert middleware.index("vinex.accounts.middleware.StaffAccessMiddleware") == (
        middleware.index("django_otp.middleware.OTPMiddleware") + 1
    )


def test_the_admin_site_requires_a_one_time_code() -> None:
    assert isinstance(admin.site._wrapped if hasattr(admin.site, "_wrapped") else admin.site, VinexAdminSite)


def test_lockout_after_five_failures_by_account() -> None:
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username"]
    assert settings.AXES_RESET_ON_SUCCESS is True
    assert conf.AXES_COOLOFF_TIME is not None
    assert conf.AXES_COOLOFF_TIME.total_seconds() == 30 * 60


def test_staff_sign_in_is_the_login_page() -> None:
    assert settings.LOGIN_URL == "/staff/login/"
    assert settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
