from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.actors import ACTOR
from tests.conftest import event
from tests.custody.test_services import ingest
from tests.factories import subscribe
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency
from vinex.notify.models import Contact, Notification, Registrant
from vinex.notify.services import contacts_find
from vinex.privacy.retention import retention_purge

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_registrants(agency: Agency) -> tuple[Registrant, Registrant]:
    ingest(agency, event("b1", "BOOKED"))
    left = subscribe(agency, email="left@example.org", sms="+12025550143")
    stays = subscribe(agency, email="stays@example.org")
    ingest(agency, event("r1", "RELEASED", minutes=5))
    return left, stays


def test_contacts_of_those_who_withdrew_long_ago_are_erased(two_registrants: tuple[Registrant, Registrant]) -> None:
    left, stays = two_registrants
    Registrant.objects.filter(pk=left.pk).update(withdrawn_at=timezone.now() - timedelta(days=31))
    report = retention_purge(actor=ACTOR)
    assert report.contacts == 2
    assert {c.value for c in Contact.objects.filter(registrant=left)} == {""}
    assert contacts_find(actor=ACTOR, channel="email", value="left@example.org") == []
    assert [c.value for c in Contact.objects.filter(registrant=stays)] == ["stays@example.org"]
    assert {n.body for n in Notification.objects.filter(contact__registrant=left)} == {""}
    assert Notification.objects.filter(contact__registrant=stays).exclude(body="").count() == 1
    assert AuditEntry.objects.filter(action="delete", object_type="contact").count() == 2
    assert retention_purge(actor=ACTOR).contacts == 0  # a second run finds nothing more


def test_a_recent_withdrawal_is_kept_for_now(two_registrants: tuple[Registrant, Registrant]) -> None:
    left, _ = two_registrants
    Registrant.objects.filter(pk=left.pk).update(withdrawn_at=timezone.now() - timedelta(days=10))
    assert retention_purge(actor=ACTOR).contacts == 0
    assert "left@example.org" in [c.value for c in Contact.objects.filter(registrant=left)]


def test_old_message_bodies_are_erased_but_their_record_stays(two_registrants: tuple[Registrant, Registrant],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    Notification.objects.update(status="delivered", created_at=timezone.now() - timedelta(days=91))
    call_command("purge")
    assert "purged 0 contacts and 3 message bodies" in capsys.readouterr().out
    assert set(Notification.objects.values_list("status", flat=True)) == {"delivered"}
    assert {n.body for n in Notification.objects.all()} == {""}
