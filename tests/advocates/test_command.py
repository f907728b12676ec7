"""``vinex advocates``: organisations and their members from the command line."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.accounts.helpers import make_staff
from vinex.accounts import matrix
from vinex.advocates.models import Membership, Organisation
from vinex.custody.models import Agency

pytestmark = pytest.mark.django_db


def test_create_an_organisation_and_add_an_advocate(agency: Agency) -> None:
    call_command("advocates", "organisation", "harbor-house", "--name", "Harbor House", "--agency", "pine")
    organisation = Organisation.objects.get(code="harbor-house")
    assert list(organisation.agencies.all()) == [agency]
    make_staff("ada", matrix.ADVOCATE)
    call_command("advocates", "member", "ada", "--organisation", "harbor-house", "--alert-email", "Ada@Example.org")
    membership = Membership.objects.get()
    assert membership.organisation == organisation and membership.alert_contact is not None
    assert membership.alert_contact.value == "ada@example.org" and membership.alert_contact.reachable


def test_mistakes_are_explained(agency: Agency) -> None:
    with pytest.raises(CommandError, match="no agency with code 'nope'"):
        call_command("advocates", "organisation", "harbor", "--name", "Harbor", "--agency", "nope")
    with pytest.raises(CommandError, match="lower-case"):
        call_command("advocates", "organisation", "Harbor House", "--name", "Harbor")
    call_command("advocates", "organisation", "harbor", "--name", "Harbor")
    make_staff("kim", matrix.CALL_CENTRE)
    with pytest.raises(CommandError, match="does not have the advocate role"):
        call_command("advocates", "member", "kim", "--organisation", "harbor", "--alert-email", "kim@example.org")
    make_staff("ada", matrix.ADVOCATE)
    with pytest.raises(CommandError, match="not a valid email"):
        call_command("advocates", "member", "ada", "--organisation", "harbor", "--alert-email", "not-an-address")
