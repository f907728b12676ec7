"""Settings of the accounts app, read from the environment (imported by vinex.settings).

The bar is the CJIS Security Policy: a password and a one-time code for every staff sign-in, an account
locked after five failed attempts, and a session that ends after 30 minutes without activity.
"""

from __future__ import annotations

from datetime import timedelta

from vinex.core.config import env_int

LOGIN_URL = "/staff/login/"
LOGIN_REDIRECT_URL = "/staff/"
LOGOUT_REDIRECT_URL = "/staff/login/"

# --- Idle timeout ----------------------------------------------------------------------------------
# StaffAccessMiddleware stamps the session on every signed-in request and ends it once the gap between
# two requests exceeds this, so idle time counts, not time since sign-in. The cookie and the stored
# session expire at the same age, so an abandoned session also disappears on the server.
VINEX_STAFF_IDLE_SECONDS = env_int("VINEX_STAFF_IDLE_MINUTES", default=30) * 60
SESSION_COOKIE_AGE = VINEX_STAFF_IDLE_SECONDS

# --- Lockout (django-axes) -------------------------------------------------------------------------
AXES_FAILURE_LIMIT = env_int("VINEX_LOCKOUT_FAILURES", default=5)
# By account, not by address: staff in one call centre share an address, and an attacker can change
# theirs, so the account is what must stop accepting guesses.
AXES_LOCKOUT_PARAMETERS = ["username"]
# 0 keeps the account locked until an administrator unlocks it (vinex axes_reset_username NAME).
_cooloff_minutes = env_int("VINEX_LOCKOUT_MINUTES", default=30)
AXES_COOLOFF_TIME = timedelta(minutes=_cooloff_minutes) if _cooloff_minutes > 0 else None
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"

# --- One-time codes (django-otp) -------------------------------------------------------------------
OTP_TOTP_ISSUER = "vinex"
# The admin never shows a device's secret key (or its QR code): an administrator who could read a staff
# member's TOTP secret could sign in as them.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
