"""Reads about staff accounts: roles, agency, one-time-code devices, the pages a user may open."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser, Group
from django.urls import Resolver404, resolve
from django_otp.plugins.otp_totp.models import TOTPDevice

from vinex.accounts import matrix
from vinex.accounts.models import AgencyMembership
from vinex.custody.models import Agency

User = AbstractBaseUser | AnonymousUser


def user_roles(*, user: User) -> frozenset[str]:
    """The staff roles the user holds (empty for anonymous and inactive users)."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    names = Group.objects.filter(user=user.pk, name__in=matrix.ROLES).values_list("name", flat=True)
    return frozenset(names)


def actor_ref(*, user: User) -> str:
    """How the audit log names this user: ``user:<id>`` (no name), or ``anonymous``."""
    return f"user:{user.pk}" if user.is_authenticated else "anonymous"


def role_label(*, roles: frozenset[str]) -> str:
    """One role name for the audit log's role column: the role, ``multiple``, or empty."""
    if len(roles) == 1:
        return next(iter(roles))
    return "multiple" if roles else ""


def agency_for_user(*, user: User) -> Agency | None:
    """The agency an agency operator works for, or None for staff not tied to one agency."""
    if not user.is_authenticated:
        return None
    membership = AgencyMembership.objects.select_related("agency").filter(user=user.pk).first()
    return membership.agency if membership else None


def user_is_verified(*, user: User) -> bool:
    """True when this request's user signed in with a one-time code (as django-otp's middleware found)."""
    return user.is_authenticated and getattr(user, "otp_device", None) is not None


def user_has_confirmed_device(*, user: User) -> bool:
    """True once the user has completed one-time-code enrolment."""
    return user.is_authenticated and TOTPDevice.objects.filter(user=user.pk, confirmed=True).exists()


@dataclass(frozen=True)
class StaffPage:
    title: str
    path: str


def _has_view(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def staff_pages_for(*, roles: frozenset[str]) -> list[StaffPage]:
    """The staff pages (from the matrix) these roles may open, in matrix order; pages not built yet are left out."""
    return [
        StaffPage(title=row.title, path=row.path)
        for row in matrix.MATRIX
        if not row.public and row.read & roles and _has_view(row.path)
    ]
