"""Writes to staff accounts: creating staff users, granting roles, enrolling one-time-code devices."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from vinex.accounts import matrix
from vinex.accounts.models import AgencyMembership
from vinex.audit.unit import Actor, AuditUnit, audit_unit
from vinex.custody.models import Agency


def _check_roles(roles: frozenset[str], agency: Agency | None) -> None:
    unknown = roles - matrix.EVERY_ROLE
    if unknown:
        raise ValidationError(f"unknown role(s): {', '.join(sorted(unknown))}")
    if matrix.AGENCY_OPERATOR in roles and agency is None:
        raise ValidationError("an agency operator must belong to an agency")


def staffuser_set_roles(*, user: User, roles: frozenset[str], actor: Actor, agency: Agency | None = None) -> None:
    """Make ``roles`` exactly the user's staff roles, and tie agency operators to ``agency``; each role
    granted or revoked is recorded in the audit log as done by ``actor``.

    Anyone with a role is Django staff (``is_staff``), which is what "member of staff" checks in views
    read; administrators are also superusers so that the admin site shows them every model. What each
    may open is decided by the matrix, by role, and the admin site admits administrators only.
    """
    _check_roles(roles, agency)
    with audit_unit(actor=actor) as unit:
        user.is_staff = bool(roles)
        user.is_superuser = matrix.ADMINISTRATOR in roles
        user.save(update_fields=["is_staff", "is_superuser"])
        current = set(user.groups.filter(name__in=matrix.ROLES))
        # get_or_create, not just the groups the migration made: a database flushed and refilled (tests,
        # restores of partial dumps) must not silently strip people of their roles.
        wanted = {Group.objects.get_or_create(name=role)[0] for role in roles}
        if current - wanted:
            user.groups.remove(*(current - wanted))
        if wanted - current:
            user.groups.add(*(wanted - current))
        if matrix.AGENCY_OPERATOR in roles and agency is not None:
            AgencyMembership.objects.update_or_create(user=user, defaults={"agency": agency})
        else:
            AgencyMembership.objects.filter(user=user).delete()
        roles_audit(unit=unit, user_pk=user.pk, granted=wanted - current, revoked=current - wanted)


def roles_audit(*, unit: AuditUnit, user_pk: object, granted: Iterable[Group], revoked: Iterable[Group]) -> None:
    """Add the role changes of one user to the audit unit: revocations first, then grants, by name."""
    for group in sorted(revoked, key=lambda g: g.name):
        unit.add("role_revoke", "user", user_pk, purpose=group.name)
    for group in sorted(granted, key=lambda g: g.name):
        unit.add("role_grant", "user", user_pk, purpose=group.name)


@transaction.atomic
def staffuser_create(*, username: str, password: str | None, roles: frozenset[str], actor: Actor,
                     agency: Agency | None = None, email: str = "") -> User:
    """Create an active staff user with these roles; they enrol a one-time-code device at first sign-in.

    ``password`` None leaves the account without a usable password (it cannot sign in until one is set).
    """
    _check_roles(roles, agency)
    user: User = get_user_model().objects.create_user(username=username, email=email, password=password)
    staffuser_set_roles(user=user, roles=roles, agency=agency, actor=actor)
    return user


def totp_device_start(*, user: User) -> TOTPDevice:
    """The user's pending (unconfirmed) TOTP device, created on first call so a reload keeps the same secret."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


def totp_device_confirm(*, device: TOTPDevice, token: str) -> bool:
    """Confirm a pending device with a code from the app; False (device still pending) if the code is wrong."""
    if not device.verify_token(token):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return True
