"""Every admin save, delete and password change is in the audit log (personal data masked); un-protecting a
subject takes two administrators; the admin never shows a staff member's one-time-code secret."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.forms import MultiWidget
from django.test import Client

from tests.accounts.helpers import add_device, make_staff, signed_in
from tests.actors import ACTOR
from tests.conftest import event
from vinex.accounts import matrix
from vinex.accounts.models import TwoPersonRequest
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency, ApiKey, Subject
from vinex.custody.services import apikey_create

pytestmark = pytest.mark.django_db


def administrator(name: str) -> tuple[User, Client]:
    user = make_staff(name, matrix.ADMINISTRATOR)
    return user, signed_in(user, verified=True)


def admin_save(client: Client, url: str, **changes: Any) -> Any:
    """Post the admin change form at ``url`` as shown, with ``changes`` (False unticks a box)."""
    form = client.get(url).context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = changes.pop(name) if name in changes else form[name].value()
        if value is None or value is False:
            continue
        if isinstance(field.widget, MultiWidget):
            for i, part in enumerate(field.widget.decompress(value) or []):
                data[f"{name}_{i}"] = "" if part is None else str(part)
        else:
            data[name] = "on" if value is True else value if isinstance(value, list) else str(value)
    return client.post(url, data)


@pytest.fixture
def subject(api: Client) -> Subject:
    assert api.post("/api/v1/custody-events", {"events": [event("e1", "BOOKED")]},
                    content_type="application/json").json()["accepted"] == 1
    return Subject.objects.get(agency_subject_id="S-1")


def entries(action: str, object_id: object) -> list[str]:
    return list(AuditEntry.objects.filter(action=action, object_id=str(object_id)).order_by("seq")
                .values_list("purpose", flat=True))


def test_an_admin_edit_is_audited_field_by_field_with_names_masked(subject: Subject) -> None:
    user, client = administrator("ada")

    response = admin_save(client, f"/admin/custody/subject/{subject.pk}/change/", protected=True,
                          first_name="Roberta")

    assert response.status_code == 302
    changes = entries("admin_change", subject.pk)
    assert sorted(changes) == ["first_name: (masked) → (masked)", "protected: False → True"]
    actors = AuditEntry.objects.filter(action="admin_change").values_list("actor", "object_type").distinct()
    assert list(actors) == [(f"user:{user.pk}", "custody.subject")]
    assert not AuditEntry.objects.filter(purpose__icontains="Roberta").exists()
    assert not AuditEntry.objects.filter(purpose__icontains="Robin").exists()


def test_an_api_key_scope_change_and_deletion_are_audited(agency: Agency) -> None:
    key, _ = apikey_create(actor=ACTOR, agency=agency)
    _, client = administrator("ada")

    admin_save(client, f"/admin/custody/apikey/{key.pk}/change/", scopes='["events:write", "custody:read"]',
               purposes='["court"]')
    client.post(f"/admin/custody/apikey/{key.pk}/delete/", {"post": "yes"})

    assert not ApiKey.objects.filter(pk=key.pk).exists()
    assert sorted(entries("admin_change", key.pk)) == [
        "purposes: [] → ['court']",
        "scopes: ['events:write', 'rosters:write'] → ['events:write', 'custody:read']",
    ]
    assert AuditEntry.objects.filter(action="admin_delete", object_type="custody.apikey",
                                     object_id=str(key.pk)).exists()


def test_a_password_set_in_the_admin_is_audited_without_the_password() -> None:
    _, client = administrator("ada")
    clerk = make_staff("clerk", matrix.CALL_CENTRE)
    secret = "a brand new long passphrase"

    response = client.post(f"/admin/auth/user/{clerk.pk}/password/",
                           {"password1": secret, "password2": secret, "usable_password": "true"})

    assert response.status_code == 302
    assert entries("password_change", clerk.pk) == ["set by an administrator"]
    assert not AuditEntry.objects.filter(purpose__icontains="passphrase").exists()


def test_un_protecting_a_subject_takes_a_second_administrator(subject: Subject) -> None:
    Subject.objects.filter(pk=subject.pk).update(protected=True)
    first, first_client = administrator("ada")
    _, second_client = administrator("grace")
    url = f"/admin/custody/subject/{subject.pk}/change/"

    admin_save(first_client, url, protected=False)
    admin_save(first_client, url, protected=False)  # the same administrator again does not count

    subject.refresh_from_db()
    assert subject.protected
    assert TwoPersonRequest.objects.filter(object_id=str(subject.pk)).count() == 1
    assert AuditEntry.objects.filter(action="two_person_request", object_id=str(subject.pk),
                                     outcome="held").count() == 2

    admin_save(second_client, url, protected=False)

    subject.refresh_from_db()
    assert not subject.protected
    assert entries("two_person_confirm", subject.pk) == [f"protected: True → False; asked by user:{first.pk}"]
    assert entries("admin_change", subject.pk) == ["protected: True → False"]
    assert not TwoPersonRequest.objects.exists()


def test_the_admin_never_shows_a_staff_members_code_secret() -> None:
    _, client = administrator("ada")
    clerk = make_staff("clerk", matrix.CALL_CENTRE)
    device = add_device(clerk)

    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")

    assert page.status_code == 200
    assert device.key not in page.content.decode()
