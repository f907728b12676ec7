"""The demo data includes a victim-witness unit and its advocate."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from tests.accounts.helpers import staff_client
from vinex.accounts import matrix
from vinex.accounts.selectors import user_roles
from vinex.advocates.models import Membership, Organisation

pytestmark = pytest.mark.django_db


def test_the_demo_has_one_advocate_organisation_and_advocate() -> None:
    call_command("demo", "--no-key")
    call_command("demo", "--no-key")
    organisation = Organisation.objects.get()
    assert [a.code for a in organisation.agencies.all()] == ["pine-county"]
    user = User.objects.get(username="advocate")
    assert user_roles(user=user) == {matrix.ADVOCATE} and not user.has_usable_password()
    assert Membership.objects.get(user=user).organisation == organisation


def test_administrators_see_organisations_in_the_admin() -> None:
    call_command("demo", "--no-key")
    admin = staff_client("root", matrix.ADMINISTRATOR)[0]
    assert admin.get("/admin/advocates/organisation/").status_code == 200
    assert admin.get(f"/admin/advocates/organisation/{Organisation.objects.get().pk}/change/").status_code == 200
    assert admin.get("/admin/advocates/consent/").status_code == 200
    assert admin.get("/admin/advocates/escalation/").status_code == 200
