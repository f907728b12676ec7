from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.actors import ACTOR
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency, Facility
from vinex.feeds.models import FacilityFeed, FeedAlertRecipient
from vinex.feeds.services import feed_health_check
from vinex.notify.models import Contact, Notification

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("feeds", "alert-recipient", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_added_recipients_are_listed_and_told_when_a_feed_goes_silent(agency: Agency, other_agency: Agency) -> None:
    assert "alerts for agency pine" in run("add", "--agency", "pine", "--email", "Jail-IT@Pine.Example.org")
    assert "alerts for every feed" in run("add", "--operator", "--sms", "(202) 555-0143")
    run("add", "--agency", "state", "--email", "ops@state.example.org")
    listing = run("list").splitlines()
    assert [line.split("\t")[1:] for line in listing] == [
        ["operator", "sms", "+12025550143"], ["pine", "email", "jail-it@pine.example.org"],
        ["state", "email", "ops@state.example.org"]]
    assert [line.split("\t")[1] for line in run("list", "--agency", "pine").splitlines()] == ["pine"]
    assert AuditEntry.objects.filter(action="read", object_type="contact", purpose="feed alert recipients").exists()

    FacilityFeed.objects.create(facility=Facility.objects.get(agency=agency, code="main"))
    feed_health_check(actor=ACTOR, now=timezone.now() + timedelta(days=30))
    told = sorted(Notification.objects.filter(template="feed_stale").values_list("contact__channel", flat=True))
    assert told == ["email", "sms"]  # pine's own contact and the operator, not the state's


def test_contact_values_are_validated_and_stored_encrypted(agency: Agency) -> None:
    with pytest.raises(CommandError, match="email"):
        run("add", "--agency", "pine", "--email", "not-an-address")
    with pytest.raises(CommandError, match="phone number"):
        run("add", "--agency", "pine", "--sms", "12")
    with pytest.raises(CommandError, match="no agency"):
        run("add", "--agency", "nope", "--email", "a@example.org")
    with pytest.raises(CommandError):
        run("add", "--email", "a@example.org")  # whose alerts must be said
    assert not FeedAlertRecipient.objects.exists()

    run("add", "--agency", "pine", "--email", "jail-it@pine.example.org")
    run("add", "--agency", "pine", "--email", "jail-it@pine.example.org")
    assert FeedAlertRecipient.objects.count() == 1
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT value FROM {Contact._meta.db_table}")  # noqa: S608
        stored = [row[0] for row in cursor.fetchall()]
    assert stored and all("jail-it" not in value for value in stored)


def test_removing_the_last_use_of_a_contact_withdraws_it_for_erasure(agency: Agency) -> None:
    run("add", "--agency", "pine", "--email", "jail-it@pine.example.org")
    run("add", "--operator", "--email", "jail-it@pine.example.org")
    contact = FeedAlertRecipient.objects.first().contact  # type: ignore[union-attr]
    assert FeedAlertRecipient.objects.filter(contact=contact).count() == 2  # one contact, two scopes

    run("remove", "--agency", "pine", "--email", "jail-it@pine.example.org")
    contact.refresh_from_db()
    assert contact.reachable and contact.registrant.withdrawn_at is None
    run("remove", "--operator", "--email", "JAIL-IT@pine.example.org")
    contact.refresh_from_db()
    assert not contact.reachable and contact.registrant.withdrawn_at is not None
    assert run("list") == "no feed alert recipients\n"
    with pytest.raises(CommandError, match="does not receive"):
        run("remove", "--operator", "--email", "jail-it@pine.example.org")

    run("add", "--operator", "--email", "jail-it@pine.example.org")  # a new start, not the withdrawn contact
    assert FeedAlertRecipient.objects.get().contact.reachable
