"""Sign-ins, failed sign-ins and role changes reach the audit log."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.test import Client

from tests.accounts.helpers import PASSWORD, add_device, code_for, make_staff, signed_in
from tests.actors import ACTOR
from vinex.accounts import matrix
from vinex.accounts.services import staffuser_set_roles
from vinex.audit.models import AuditEntry


def _entries(**filters: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(**filters).order_by("seq"))


def test_a_sign_in_is_recorded_with_the_role(db: None) -> None:
    user = make_staff("robin", matrix.AUDITOR, password=PASSWORD)
    device = add_device(user)
    Client().post("/staff/login/", {"username": "robin", "password": PASSWORD, "otp_token": code_for(device)})
    [entry] = _entries(action="login", outcome="ok")
    assert (entry.actor, entry.role, entry.object_id) == (f"user:{user.pk}", matrix.AUDITOR, str(user.pk))


def test_a_failed_sign_in_is_recorded_without_what_was_typed(db: None) -> None:
    robin = make_staff("robin", matrix.AUDITOR, password=PASSWORD)
    Client().post("/staff/login/", {"username": "robin", "password": "wrong password", "otp_token": ""})
    Client().post("/staff/login/", {"username": "my secret passphrase", "password": "x", "otp_token": ""})
    failed = _entries(action="login", outcome="failed")
    assert [e.actor for e in failed] == [f"user:{robin.pk}", "unknown"]
    assert not AuditEntry.objects.filter(actor__contains="passphrase").exists()


def test_a_wrong_code_is_recorded_as_a_failed_sign_in(db: None) -> None:
    robin = make_staff("robin", matrix.AUDITOR, password=PASSWORD)
    device = add_device(robin)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    Client().post("/staff/login/", {"username": "robin", "password": PASSWORD, "otp_token": wrong})
    assert [e.actor for e in _entries(action="login")] == [f"user:{robin.pk}"]
    assert _entries(action="login")[0].outcome == "failed"


def test_granting_and_revoking_roles_is_recorded(db: None) -> None:
    user = make_staff("robin", matrix.AUDITOR)
    staffuser_set_roles(actor=ACTOR, user=user, roles=frozenset({matrix.PRIVACY_OFFICER}))
    changes = [(e.action, e.purpose) for e in _entries(object_type="user", object_id=str(user.pk))]
    assert changes == [
        ("role_grant", matrix.AUDITOR),
        ("role_revoke", matrix.AUDITOR),
        ("role_grant", matrix.PRIVACY_OFFICER),
    ]


def test_a_role_given_in_the_admin_is_recorded_with_who_gave_it(db: None) -> None:
    ada = make_staff("ada", matrix.ADMINISTRATOR)
    admin_client = signed_in(ada, verified=True)
    user = make_staff("robin")
    auditor = Group.objects.get(name=matrix.AUDITOR)
    response = admin_client.post(f"/admin/auth/user/{user.pk}/change/", {
        "username": "robin", "is_active": "on", "groups": [auditor.pk],
        "date_joined_0": "2026-11-25", "date_joined_1": "10:00:00",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    [entry] = _entries(action="role_grant", object_id=str(user.pk))
    assert (entry.actor, entry.purpose) == (f"user:{ada.pk}", matrix.AUDITOR)


def test_a_page_refused_by_the_gate_is_recorded(db: None) -> None:
    agent = make_staff("agent", matrix.CALL_CENTRE)
    signed_in(agent, verified=True).get("/staff/outbox/?q=anything")
    [entry] = _entries(action="page_access")
    assert (entry.actor, entry.role, entry.object_id, entry.outcome) == (
        f"user:{agent.pk}", matrix.CALL_CENTRE, "/staff/outbox/", "denied")
