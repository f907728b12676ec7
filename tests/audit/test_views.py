from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.audit.helpers import record
from vinex.audit.models import AuditEntry
from vinex.audit.verify import audit_verify
from vinex.audit.views import search_role

pytestmark = pytest.mark.django_db
URL = "/staff/audit/"
STAFF_GATE = "vinex.accounts.middleware.StaffAccessMiddleware"


@pytest.fixture(autouse=True)
def staff_gate(settings: Any) -> None:
    """The page is tested behind the staff gate (sign-in, one-time code, role matrix), as it is served."""
    if STAFF_GATE not in settings.MIDDLEWARE:
        middleware = list(settings.MIDDLEWARE)
        middleware.insert(middleware.index("django_otp.middleware.OTPMiddleware") + 1, STAFF_GATE)
        settings.MIDDLEWARE = middleware


def staff(username: str, *groups: str, is_staff: bool = True) -> tuple[Client, User]:
    """A user in ``groups`` and a client signed in as them with password and one-time code."""
    user = User.objects.create_user(username, password="a long enough password", is_staff=is_staff)
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.create(user=user, name="phone", confirmed=True).persistent_id
    session.save()
    return client, user


def test_anonymous_visitors_do_not_see_the_log() -> None:
    record(1)
    response = Client().get(URL, {"actor": "user:1"})
    assert response.status_code in {302, 403}
    assert b"contact" not in response.content


@pytest.mark.parametrize("groups", [(), ("call_centre",), ("agency_operator",)])
def test_staff_without_an_audit_role_are_refused_and_the_attempt_is_recorded(groups: tuple[str, ...]) -> None:
    client, user = staff("operator", *groups)
    response = client.get(URL, {"actor": "user:1"})
    assert response.status_code == 403
    assert AuditEntry.objects.filter(actor=f"user:{user.pk}", outcome="denied").exists()
    assert not AuditEntry.objects.filter(action="audit_search", outcome="ok").exists()


def test_an_auditor_who_is_not_staff_is_refused() -> None:
    client, user = staff("former", "auditor", is_staff=False)
    assert client.get(URL).status_code == 403
    assert AuditEntry.objects.filter(actor=f"user:{user.pk}", action="audit_search", outcome="denied").exists()


def test_the_roles_that_may_search() -> None:
    officer = User.objects.create_user("officer", is_staff=True)
    officer.groups.add(Group.objects.get_or_create(name="privacy_officer")[0])
    superuser = User.objects.create_user("root", is_staff=True, is_superuser=True)
    operator = User.objects.create_user("operator", is_staff=True)
    assert (search_role(officer), search_role(superuser), search_role(operator), search_role(AnonymousUser())) == (
        "privacy_officer", "administrator", None, None)


@pytest.mark.parametrize("role", ["privacy_officer", "auditor"])
def test_privacy_officers_and_auditors_may_search(role: str) -> None:
    client, user = staff("reviewer", role)
    response = client.get(URL, {"actor": "user:1"})
    assert response.status_code == 200
    search = AuditEntry.objects.get(action="audit_search")
    assert (search.actor, search.role, search.object_id) == (f"user:{user.pk}", role, "actor=user:1")


def test_opening_the_empty_form_searches_nothing_and_records_nothing() -> None:
    client, _ = staff("reviewer", "auditor")
    before = AuditEntry.objects.count()
    response = client.get(URL)
    assert response.status_code == 200 and b"matching" not in response.content
    assert AuditEntry.objects.count() == before


def test_filters_narrow_the_results_and_the_search_is_itself_recorded() -> None:
    record(3, actor="user:7")
    record(2, actor="user:8", action="update")
    client, user = staff("reviewer", "privacy_officer")
    response = client.get(URL, {"actor": "user:8", "action": "update", "object_type": "contact", "object_id": "2",
                                "purpose": "complaint 2026-114"})
    page = response.context["page"]
    assert [(e.actor, e.action, e.object_id) for e in page] == [("user:8", "update", "2")]
    search = AuditEntry.objects.order_by("-seq").first()
    assert search is not None
    assert (search.action, search.actor, search.purpose) == ("audit_search", f"user:{user.pk}", "complaint 2026-114")
    assert search.object_id == "actor=user:8 action=update object_type=contact object_id=2"
    assert audit_verify().ok


def test_the_date_range_is_inclusive_whole_days() -> None:
    record(2)
    client, _ = staff("reviewer", "auditor")
    today = AuditEntry.objects.get(seq=1).at.date().isoformat()
    assert len(client.get(URL, {"object_type": "contact", "date_from": today, "date_to": today}).context["page"]) == 2
    assert len(client.get(URL, {"object_type": "contact", "date_to": "2000-01-01"}).context["page"]) == 0


def test_an_inverted_date_range_is_an_error_on_the_form_not_a_search() -> None:
    client, _ = staff("reviewer", "auditor")
    response = client.get(URL, {"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert response.status_code == 200 and b"start date is after the end date" in response.content
    assert not AuditEntry.objects.filter(action="audit_search").exists()


def test_results_are_paginated_newest_first(settings: object) -> None:
    settings.VINEX_AUDIT_PAGE_SIZE = 10  # type: ignore[attr-defined]
    record(25)
    client, _ = staff("reviewer", "auditor")
    first = client.get(URL, {"object_type": "contact"})
    assert [e.seq for e in first.context["page"]] == list(range(25, 15, -1))
    assert b"page=2" in first.content
    third = client.get(URL, {"object_type": "contact", "page": "3"})
    assert [e.seq for e in third.context["page"]] == list(range(5, 0, -1))
