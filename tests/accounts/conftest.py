from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from vinex.accounts import matrix
from vinex.accounts.services import staffuser_create
from vinex.custody.models import Agency

STAFF_ACCESS = "vinex.accounts.middleware.StaffAccessMiddleware"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def staff_access_installed(settings: Any) -> None:
    """Staff-access tests run with the gate right after django-otp's middleware, where vinex.settings installs it
    (test_settings checks that it does)."""
    if STAFF_ACCESS not in settings.MIDDLEWARE:
        middleware = list(settings.MIDDLEWARE)
        middleware.insert(middleware.index("django_otp.middleware.OTPMiddleware") + 1, STAFF_ACCESS)
        settings.MIDDLEWARE = middleware


def make_staff(username: str, *roles: str, agency: Agency | None = None, password: str | None = None) -> User:
    if matrix.AGENCY_OPERATOR in roles and agency is None:
        agency = Agency.objects.get_or_create(code=f"agency-{username}", defaults={"name": "Agency",
                                                                                  "jurisdiction_code": "US"})[0]
    return staffuser_create(username=username, password=password, roles=frozenset(roles), agency=agency)


def add_device(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def code_for(device: TOTPDevice, *, offset_steps: int = 0) -> str:
    """The code the authenticator app shows now (or ``offset_steps`` periods away)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset_steps):06d}"


def signed_in(user: User, *, verified: bool) -> Client:
    """A client whose session is signed in as ``user``, verified by a one-time code or by password only."""
    client = Client(raise_request_exception=False)
    client.force_login(user, backend=MODEL_BACKEND)
    if verified:
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or add_device(user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client
