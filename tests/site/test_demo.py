from __future__ import annotations

import pytest
from django.core.management import call_command

from vinex.custody.models import Agency, CustodyEvent, Facility, Subject
from vinex.notify.models import Contact, Subscription

pytestmark = pytest.mark.django_db


def test_demo_loads_once_and_again_changes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("demo")
    first = capsys.readouterr().out
    assert "2 agencies, 3 facilities, 50 people in custody, 4 registrants" in first
    assert "API key for agency pine-county: vx_" in first
    counts = [m.objects.count() for m in (Agency, Facility, Subject, CustodyEvent, Contact, Subscription)]
    call_command("demo", "--no-key")
    assert [m.objects.count() for m in (Agency, Facility, Subject, CustodyEvent, Contact, Subscription)] == counts
    assert Contact.objects.filter(verified_at__isnull=False).count() == 4


def test_apikey_create_prints_a_working_key(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("demo", "--no-key")
    call_command("apikey", "create", "--agency", "state-doc", "--name", "jail management system")
    token = capsys.readouterr().out.strip().splitlines()[-1]
    from vinex.custody.services import apikey_authenticate

    key = apikey_authenticate(token=token)
    assert key is not None and key.agency.code == "state-doc"
