"""Staff users and signed-in clients for tests, also for other apps' staff pages.

``staff_client("ada", "auditor")`` gives a client signed in with password and one-time code, as the
staff gate demands.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.actors import ACTOR
from vinex.accounts import matrix
from vinex.accounts.services import staffuser_create
from vinex.custody.models import Agency

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
PASSWORD = "correct horse battery staple"


def make_staff(username: str, *roles: str, agency: Agency | None = None, password: str | None = None) -> User:
    if matrix.AGENCY_OPERATOR in roles and agency is None:
        agency = Agency.objects.get_or_create(code=f"agency-{username}", defaults={"name": "Agency",
                                                                                  "jurisdiction_code": "US"})[0]
    return staffuser_create(actor=ACTOR, username=username, password=password, roles=frozenset(roles), agency=agency)


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


def staff_client(username: str, *roles: str, agency: Agency | None = None) -> tuple[Client, User]:
    """A new staff user with ``roles`` and a client signed in as them, one-time code included."""
    user = make_staff(username, *roles, agency=agency)
    return signed_in(user, verified=True), user
