"""Creating staff users and changing their roles."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from tests.actors import ACTOR
from vinex.accounts import matrix, selectors
from vinex.accounts.services import staffuser_create, staffuser_set_roles
from vinex.custody.models import Agency


def test_the_five_roles_exist_as_groups(db: None) -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= set(matrix.ROLES)


def test_passwords_are_stored_as_argon2_hashes(db: None) -> None:
    user = staffuser_create(actor=ACTOR,
                            username="ada", password="a long enough passphrase", roles=frozenset({matrix.AUDITOR}))
    assert user.password.startswith("argon2")
    assert user.check_password("a long enough passphrase")


def test_an_agency_operator_belongs_to_one_agency(agency: Agency) -> None:
    user = staffuser_create(actor=ACTOR,
                            username="oli", password=None, roles=frozenset({matrix.AGENCY_OPERATOR}), agency=agency)
    assert selectors.user_roles(user=user) == {matrix.AGENCY_OPERATOR}
    assert selectors.agency_for_user(user=user) == agency


def test_an_agency_operator_without_an_agency_is_refused(db: None) -> None:
    with pytest.raises(ValidationError):
        staffuser_create(actor=ACTOR, username="oli", password=None, roles=frozenset({matrix.AGENCY_OPERATOR}))


def test_unknown_roles_are_refused(db: None) -> None:
    with pytest.raises(ValidationError):
        staffuser_create(actor=ACTOR, username="x", password=None, roles=frozenset({"superhero"}))


def test_changing_roles_replaces_them_and_drops_the_agency(agency: Agency) -> None:
    user = staffuser_create(actor=ACTOR,
                            username="oli", password=None, roles=frozenset({matrix.AGENCY_OPERATOR}), agency=agency)
    staffuser_set_roles(actor=ACTOR, user=user, roles=frozenset({matrix.CALL_CENTRE}))
    assert selectors.user_roles(user=user) == {matrix.CALL_CENTRE}
    assert selectors.agency_for_user(user=user) is None


def test_every_role_is_django_staff_and_only_administrators_are_superusers(db: None) -> None:
    admin = staffuser_create(actor=ACTOR, username="ada", password=None, roles=frozenset({matrix.ADMINISTRATOR}))
    auditor = staffuser_create(actor=ACTOR, username="aud", password=None, roles=frozenset({matrix.AUDITOR}))
    assert (admin.is_staff, admin.is_superuser) == (True, True)
    assert (auditor.is_staff, auditor.is_superuser) == (True, False)
    staffuser_set_roles(actor=ACTOR, user=admin, roles=frozenset())
    admin.refresh_from_db()
    assert (admin.is_staff, admin.is_superuser) == (False, False)


def test_an_inactive_user_holds_no_role(db: None) -> None:
    user = staffuser_create(actor=ACTOR, username="gone", password=None, roles=frozenset({matrix.ADMINISTRATOR}))
    user.is_active = False
    user.save()
    assert selectors.user_roles(user=user) == frozenset()
