"""The authorisation matrix: which roles may read or write each staff page and staff API.

This module is the only place that says who may open what. ``StaffAccessMiddleware`` enforces it for
every path under ``/staff/`` and ``/admin/``; a path there without a row is refused to everyone.
Rows match by path prefix (the longest wins) unless marked ``exact``, so a page added under an
existing prefix inherits that prefix's rule from its first day.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

AGENCY_OPERATOR = "agency_operator"
CALL_CENTRE = "call_centre"
PRIVACY_OFFICER = "privacy_officer"
AUDITOR = "auditor"
ADMINISTRATOR = "administrator"
ADVOCATE = "advocate"  # a victim advocate: her organisation's caseload (vinex.advocates)

#: Every staff role; each is a Django ``Group`` of the same name.
ROLES: tuple[str, ...] = (AGENCY_OPERATOR, CALL_CENTRE, PRIVACY_OFFICER, AUDITOR, ADMINISTRATOR, ADVOCATE)
EVERY_ROLE = frozenset(ROLES)

#: The path prefixes this matrix guards.
PROTECTED_PREFIXES: tuple[str, ...] = ("/staff/", "/admin/")


class Action(StrEnum):
    READ = "read"
    WRITE = "write"


# Methods outside this table (TRACE, CONNECT, ...) map to no action and are refused.
METHOD_ACTIONS: dict[str, Action] = {
    "GET": Action.READ,
    "HEAD": Action.READ,
    "OPTIONS": Action.READ,
    "POST": Action.WRITE,
    "PUT": Action.WRITE,
    "PATCH": Action.WRITE,
    "DELETE": Action.WRITE,
}


@dataclass(frozen=True)
class Row:
    path: str
    title: str
    read: frozenset[str] = frozenset()
    write: frozenset[str] = frozenset()
    exact: bool = False
    # Public rows are the way in (sign-in, enrolment, sign-out); their views check what they need.
    public: bool = False

    def matches(self, path: str) -> bool:
        return path == self.path if self.exact else path.startswith(self.path)

    def roles_for(self, action: Action) -> frozenset[str]:
        return self.read if action is Action.READ else self.write


def _roles(*roles: str) -> frozenset[str]:
    return frozenset(roles)


MATRIX: tuple[Row, ...] = (
    Row("/staff/login/", "Sign in", public=True, exact=True),
    # Reached with a password but before any one-time code exists; the view demands exactly that state.
    Row("/staff/enrol/", "Set up two-step sign-in", public=True, exact=True),
    Row("/staff/logout/", "Sign out", public=True, exact=True),
    Row("/staff/", "Staff home", read=EVERY_ROLE, exact=True),
    Row("/staff/outbox/", "Development mail outbox", read=_roles(ADMINISTRATOR)),
    # Operators see their own agency only; the feeds views narrow by selectors.agency_for_user.
    Row("/staff/feeds/", "Agency feeds and quarantine", read=_roles(ADMINISTRATOR, AGENCY_OPERATOR),
        write=_roles(ADMINISTRATOR, AGENCY_OPERATOR)),
    # Searches may be POSTed so that what was searched for stays out of URLs and access logs; the log
    # itself is append-only, so writing here changes nothing recorded.
    Row("/staff/audit/", "Audit log", read=_roles(PRIVACY_OFFICER, AUDITOR), write=_roles(PRIVACY_OFFICER, AUDITOR)),
    Row("/staff/hotline/", "Call-centre console", read=_roles(CALL_CENTRE), write=_roles(CALL_CENTRE)),
    Row("/staff/privacy/", "Privacy review queues", read=_roles(PRIVACY_OFFICER), write=_roles(PRIVACY_OFFICER)),
    Row("/staff/privacy/review/", "Registrations held for review", read=_roles(PRIVACY_OFFICER),
        write=_roles(PRIVACY_OFFICER)),
    Row("/staff/privacy/reports/", "Reports of wrong data", read=_roles(PRIVACY_OFFICER),
        write=_roles(PRIVACY_OFFICER)),
    # "Case number confirmed by the agency or the call centre" makes a verified victim: both may record it.
    Row("/staff/privacy/cases/", "Case numbers to confirm", read=_roles(PRIVACY_OFFICER, CALL_CENTRE),
        write=_roles(PRIVACY_OFFICER, CALL_CENTRE)),
    Row("/staff/privacy/subscriptions/", "Suspend or lift a subscription", read=_roles(PRIVACY_OFFICER),
        write=_roles(PRIVACY_OFFICER)),
    # Counts only (agencies, purposes), no personal data: auditors check that policies are enforced.
    Row("/staff/privacy/denials/", "Disclosures refused by sharing policies", read=_roles(PRIVACY_OFFICER, AUDITOR)),
    # Misuse cases name staff accounts and record ids: only privacy officers look into them and close them.
    Row("/staff/privacy/alerts/", "Misuse alerts from the audit log", read=_roles(PRIVACY_OFFICER),
        write=_roles(PRIVACY_OFFICER)),
    # Operators see only pairs involving their own agency's subjects (vinex.linkage.selectors); only a privacy
    # officer may undo a link (the view checks).
    Row("/staff/linkage/", "Identity linkage review", read=_roles(PRIVACY_OFFICER, AGENCY_OPERATOR),
        write=_roles(PRIVACY_OFFICER, AGENCY_OPERATOR)),
    # Advocates see only their organisation's victims; the advocates views narrow by its membership.
    Row("/staff/advocate/", "Caseload of the victims we serve", read=_roles(ADVOCATE), write=_roles(ADVOCATE)),
    # Quarterly reports hold counts only: privacy officers and administrators generate and approve, auditors read.
    Row("/staff/reports/", "Quarterly reports", read=_roles(PRIVACY_OFFICER, ADMINISTRATOR, AUDITOR),
        write=_roles(PRIVACY_OFFICER, ADMINISTRATOR)),
    # The admin shows raw records of every app, personal data included: administrators only.
    Row("/admin/", "Administration", read=_roles(ADMINISTRATOR), write=_roles(ADMINISTRATOR)),
)


def is_protected(path: str) -> bool:
    """True for paths the matrix guards (everything under /staff/ and /admin/)."""
    return path.startswith(PROTECTED_PREFIXES)


def row_for(path: str) -> Row | None:
    """The row governing ``path`` (an exact row, else the longest matching prefix), or None."""
    candidates = [row for row in MATRIX if row.matches(path)]
    if not candidates:
        return None
    return max(candidates, key=lambda row: (row.exact, len(row.path)))


def roles_allowed(path: str, method: str) -> frozenset[str]:
    """The roles that may use ``method`` on ``path``; empty when no row or no action covers it."""
    row = row_for(path)
    action = METHOD_ACTIONS.get(method.upper())
    if row is None or action is None:
        return frozenset()
    return row.roles_for(action)


def is_allowed(path: str, method: str, roles: frozenset[str]) -> bool:
    """True when any of ``roles`` may use ``method`` on ``path``."""
    return bool(roles_allowed(path, method) & roles)
