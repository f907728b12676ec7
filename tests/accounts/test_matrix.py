"""Every staff URL the project serves, against every role, anonymous and password-only sessions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from tests.accounts.helpers import add_device, make_staff, signed_in
from vinex.accounts import matrix

_CONVERTER = re.compile(r"<(?:(\w+):)?\w+>")
_NAMED_GROUP = re.compile(r"\(\?P<\w+>([^)]*)\)")
_WORDS = re.compile(r"[\w|-]+")


def _walk(patterns: list[URLPattern | URLResolver], prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        else:
            yield route


def _group_sample(match: re.Match[str]) -> str:
    body = match.group(1)
    return body.split("|")[0] if _WORDS.fullmatch(body) else "1"


def _sample_path(route: str) -> str:
    """A concrete path for a route: converters and regex groups filled with a plausible value."""
    path = _CONVERTER.sub(lambda m: "00000000-0000-0000-0000-000000000001" if m.group(1) == "uuid" else "1", route)
    path = _NAMED_GROUP.sub(_group_sample, path)
    return "/" + path.replace("^", "").replace("$", "").replace(".*", "1")


def staff_paths() -> list[str]:
    """One concrete path per URL pattern the project serves under a protected prefix."""
    paths = {_sample_path(route) for route in _walk(get_resolver().url_patterns)}
    return sorted(p for p in paths if matrix.is_protected(p))


@dataclass
class Principal:
    name: str
    user: User | None
    roles: frozenset[str]
    verified: bool
    has_device: bool

    def __post_init__(self) -> None:
        self.client = self._sign_in()

    def _sign_in(self) -> Client:
        return signed_in(self.user, verified=self.verified) if self.user else Client(raise_request_exception=False)

    def request(self, method: str, path: str) -> Any:  # the test client's response (has .templates)
        response = self.client.generic(method, path)
        if self.user and "_auth_user_id" not in self.client.session:
            self.client = self._sign_in()  # that request signed out (the admin's logout); start afresh
        return response


@pytest.fixture
def principals(db: None) -> list[Principal]:
    everyone = [Principal("anonymous", None, frozenset(), verified=False, has_device=False)]
    # Holding every role is not enough without the one-time code, with or without a device enrolled.
    no_device = make_staff("password-only-new", *matrix.ROLES)
    everyone.append(Principal("password only, not enrolled", no_device, matrix.EVERY_ROLE, False, False))
    enrolled = make_staff("password-only-enrolled", *matrix.ROLES)
    add_device(enrolled)
    everyone.append(Principal("password only, enrolled", enrolled, matrix.EVERY_ROLE, False, True))
    for role in matrix.ROLES:
        user = make_staff(f"user-{role}", role)
        everyone.append(Principal(role, user, frozenset({role}), verified=True, has_device=True))
    return everyone


def _gate_redirect(response: Any) -> str:
    """Where the gate sent the request (sign-in or enrolment, always with ``next``), or ""."""
    location = response.get("Location", "") if response.status_code == 302 else ""
    target, _, query = location.partition("?")
    return target if target in ("/staff/login/", "/staff/enrol/") and "next=" in query else ""


def _gate_refused(response: Any) -> bool:
    # The gate's own 403 page; a view may still answer 403 to bad input (the admin's autocomplete does).
    return response.status_code == 403 and "accounts/forbidden.html" in [t.name for t in response.templates]


def _check(principal: Principal, path: str, method: str) -> str | None:
    """None when the response is what the matrix says, else a description of the mismatch."""
    response = principal.request(method, path)
    status, target = response.status_code, _gate_redirect(response)
    allowed = principal.verified and matrix.is_allowed(path, method, principal.roles)
    if principal.user is None or (principal.has_device and not principal.verified):
        ok = target == "/staff/login/"
    elif not principal.verified:
        ok = target == "/staff/enrol/"
    elif allowed:
        ok = status != 401 and not _gate_refused(response) and not target
    else:
        ok = _gate_refused(response)
    verdict = "allowed" if allowed else "denied"
    return None if ok else f"{principal.name} {method} {path}: expected {verdict}, got {status} {target}"


def test_the_project_serves_staff_pages_to_check() -> None:
    paths = staff_paths()
    assert "/staff/" in paths
    assert "/admin/" in paths
    assert "/staff/outbox/" in paths


def test_every_staff_url_has_a_matrix_row(db: None) -> None:
    missing = [path for path in staff_paths() if matrix.row_for(path) is None]
    assert missing == [], "add these to vinex/accounts/matrix.py"


@pytest.mark.timeout(900)  # every staff URL for every role: long on a loaded machine with PostgreSQL
def test_every_staff_url_answers_every_role_as_the_matrix_says(principals: list[Principal]) -> None:
    mismatches: list[str] = []
    for path in staff_paths():
        resolve(path)  # the sample path really is one the project serves
        row = matrix.row_for(path)
        if row is None or row.public:
            continue
        mismatches += [
            mismatch
            for principal in principals
            for method in ("GET", "POST")
            if (mismatch := _check(principal, path, method)) is not None
        ]
    assert mismatches == []


def test_the_way_in_is_open_to_people_not_signed_in(db: None) -> None:
    public = [path for path in staff_paths() if (row := matrix.row_for(path)) and row.public]
    assert sorted(public) == ["/staff/enrol/", "/staff/login/", "/staff/logout/"]
    assert Client().get("/staff/login/").status_code == 200


@pytest.mark.parametrize("path", ["/staff/reportz/", "/staff/nothing-here/", "/staff/outboxes/"])
def test_a_staff_path_without_a_row_is_refused_even_to_an_administrator(path: str, db: None) -> None:
    client = signed_in(make_staff("admin", matrix.ADMINISTRATOR), verified=True)
    assert client.get(path).status_code == 403


def test_staff_pages_still_to_be_built_are_guarded_already(db: None) -> None:
    operator = signed_in(make_staff("op", matrix.AGENCY_OPERATOR), verified=True)
    call_centre = signed_in(make_staff("agent", matrix.CALL_CENTRE), verified=True)
    assert operator.get("/staff/hotline/callers/").status_code == 403
    assert operator.get("/staff/privacy/queue/").status_code == 403
    # Allowed through the gate: no page answers there yet, so Django's 404, not the gate's 403.
    assert call_centre.get("/staff/hotline/not-built-yet/").status_code == 404


def test_the_audit_log_is_for_privacy_officers_and_auditors_not_administrators() -> None:
    assert matrix.roles_allowed("/staff/audit/search/", "GET") == {matrix.PRIVACY_OFFICER, matrix.AUDITOR}
    assert not matrix.is_allowed("/staff/audit/", "GET", frozenset({matrix.ADMINISTRATOR}))


def test_unknown_methods_are_refused() -> None:
    assert matrix.roles_allowed("/admin/", "TRACE") == frozenset()


# The policy as agreed, read access per area: a change to the matrix that breaks it must be deliberate.
AGREED_READERS = {
    "/staff/": matrix.EVERY_ROLE,
    "/staff/outbox/": {matrix.ADMINISTRATOR},
    "/staff/feeds/": {matrix.ADMINISTRATOR, matrix.AGENCY_OPERATOR},
    "/staff/audit/": {matrix.PRIVACY_OFFICER, matrix.AUDITOR},
    "/staff/hotline/": {matrix.CALL_CENTRE},
    "/staff/privacy/": {matrix.PRIVACY_OFFICER},
    "/admin/": {matrix.ADMINISTRATOR},
}


@pytest.mark.parametrize(("path", "readers"), AGREED_READERS.items())
def test_the_matrix_grants_what_was_agreed(path: str, readers: frozenset[str]) -> None:
    assert matrix.roles_allowed(path, "GET") == readers
    # Nobody may change what they may not see.
    assert matrix.roles_allowed(path, "POST") <= readers
