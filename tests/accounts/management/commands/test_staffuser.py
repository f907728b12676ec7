from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from vinex.accounts import selectors
from vinex.custody.models import Agency


def test_create_prints_a_first_password_that_signs_in(agency: Agency) -> None:
    out = StringIO()
    call_command("staffuser", "create", "oli", "--role", "agency_operator", "--agency", "pine", stdout=out,
                 stderr=StringIO())
    user = User.objects.get(username="oli")
    assert user.check_password(out.getvalue().strip())
    assert selectors.agency_for_user(user=user) == agency


def test_roles_replaces_the_roles(db: None) -> None:
    call_command("staffuser", "create", "ada", "--role", "auditor", stdout=StringIO(), stderr=StringIO())
    call_command("staffuser", "roles", "ada", "--role", "privacy_officer", "--role", "auditor", stderr=StringIO())
    assert selectors.user_roles(user=User.objects.get(username="ada")) == {"privacy_officer", "auditor"}


def test_an_operator_needs_an_agency(db: None) -> None:
    with pytest.raises(CommandError, match="agency"):
        call_command("staffuser", "create", "oli", "--role", "agency_operator", stdout=StringIO())
