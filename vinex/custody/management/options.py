"""The ``--agency CODE`` option shared by vinex's commands."""

from __future__ import annotations

from django.core.management.base import CommandError

from vinex.custody.models import Agency


def agency_named(code: str) -> Agency:
    """The agency with this code; an unknown code stops the command with a message saying so."""
    agency = Agency.objects.filter(code=code).first()
    if agency is None:
        raise CommandError(f"no agency with code {code!r}")
    return agency


def agency_option(code: str | None) -> Agency | None:
    """An optional ``--agency``: None when it was left out."""
    return None if code is None else agency_named(code)
