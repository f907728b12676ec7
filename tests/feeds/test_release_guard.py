"""The false-release guard of pushed events: a flood of RELEASED is recorded, held, and told only once
someone approves it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import PermissionDenied
from django.test import Client

from tests.accounts.helpers import staff_client
from tests.actors import ACTOR
from tests.conftest import event
from tests.factories import subscribe
from tests.portal.mail import deliver, messages_to
from tests.support.smtp import SmtpServer
from vinex.accounts import matrix
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency, CustodyEvent, Subject
from vinex.feeds.models import ReleaseHold
from vinex.feeds.release_guard import ReleaseHoldDecisionError, release_holds_approve, release_holds_reject
from vinex.feeds.services import feed_alert_recipient_add
from vinex.notify.models import Notification

# Thousands of pushed releases per test: minutes on a loaded machine with PostgreSQL.
pytestmark = [pytest.mark.django_db, pytest.mark.timeout(900)]
PEOPLE = 8_000
VICTIMS = ("v0@example.org", "v1@example.org", "v2@example.org")


def push(api: Client, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = api.post("/api/v1/custody-events", data=json.dumps({"events": events}), content_type="application/json")
    assert response.status_code == 200, response.content[:300]
    return dict(response.json())


def reviewer() -> User:
    user = User.objects.create_user("rhea", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="review_snapshot"))
    return User.objects.get(pk=user.pk)  # permissions are cached per instance


@pytest.fixture
def flood(agency: Agency, api: Client, smtp_settings: SmtpServer) -> SmtpServer:
    """8,000 people booked, three of them followed, then all 8,000 RELEASED in one push."""
    feed_alert_recipient_add(value="ops@example.org", actor=ACTOR)
    assert push(api, [event(f"b{n}", "BOOKED", subject=f"S-{n}") for n in range(PEOPLE)])["accepted"] == PEOPLE
    for n, address in enumerate(VICTIMS):
        subscribe(agency, f"S-{n}", email=address)
    body = push(api, [event(f"r{n}", "RELEASED", subject=f"S-{n}", minutes=5) for n in range(PEOPLE)])
    assert body["accepted"] == PEOPLE
    deliver()
    return smtp_settings


def released_messages() -> int:
    return Notification.objects.filter(template="event/RELEASED").count()


def test_a_pushed_flood_of_releases_is_recorded_and_held_and_nobody_is_told(agency: Agency, flood: SmtpServer) -> None:
    assert Subject.objects.filter(agency=agency, status="RELEASED").count() == PEOPLE  # the record follows
    # Held: the notifications the releases would send (the followed people's), nobody else's to hold.
    assert ReleaseHold.objects.filter(decision="").count() == len(VICTIMS)
    assert not CustodyEvent.objects.filter(type="RELEASED", notified=True).exists()
    assert released_messages() == 0
    assert all(messages_to(flood, address) == [] for address in VICTIMS)
    [alert] = messages_to(flood, "ops@example.org")
    assert "held for review" in str(alert["Subject"])


def test_approving_tells_each_victim_once(agency: Agency, flood: SmtpServer) -> None:
    user = reviewer()
    assert release_holds_approve(agency=agency, user=user, note="checked with the sheriff") == len(VICTIMS)
    deliver()
    assert [len(messages_to(flood, address)) for address in VICTIMS] == [1, 1, 1]
    with pytest.raises(ReleaseHoldDecisionError):
        release_holds_approve(agency=agency, user=user)
    deliver()
    assert [len(messages_to(flood, address)) for address in VICTIMS] == [1, 1, 1]
    assert AuditEntry.objects.filter(action="release_hold_approved", object_id="pine").count() == 1


def test_rejecting_tells_nobody_and_is_audited(agency: Agency, flood: SmtpServer) -> None:
    user = reviewer()
    release_holds_reject(agency=agency, user=user, note="bulk update error at the agency")
    deliver()
    assert released_messages() == 0
    assert all(messages_to(flood, address) == [] for address in VICTIMS)
    assert ReleaseHold.objects.filter(decision="rejected", decided_by=user).count() == len(VICTIMS)
    entry = AuditEntry.objects.get(action="release_hold_rejected", object_id="pine")
    assert entry.actor == f"user:{user.pk}" and "bulk update error" in entry.purpose


def test_a_few_releases_are_told_at_once(agency: Agency, api: Client) -> None:
    push(api, [event(f"b{n}", "BOOKED", subject=f"S-{n}") for n in range(100)])
    subscribe(agency, "S-0", email="v@example.org")
    push(api, [event("r0", "RELEASED", subject="S-0", minutes=5)])
    assert released_messages() == 1 and not ReleaseHold.objects.exists()


def test_a_hold_waits_for_review_even_for_a_single_later_release(agency: Agency, api: Client) -> None:
    push(api, [event(f"b{n}", "BOOKED", subject=f"S-{n}") for n in range(100)])
    subscribe(agency, "S-99", email="v@example.org")
    push(api, [event(f"r{n}", "RELEASED", subject=f"S-{n}", minutes=5) for n in range(50)])
    push(api, [event("r99", "RELEASED", subject="S-99", minutes=6)])
    assert ReleaseHold.objects.filter(event__event_id="r99").exists() and released_messages() == 0


def test_the_staff_page_lists_and_decides_an_agencys_held_releases(agency: Agency, other_agency: Agency,
                                                                  api: Client) -> None:
    push(api, [event(f"b{n}", "BOOKED", subject=f"S-{n}") for n in range(100)])
    for n in range(3):
        subscribe(agency, f"S-{n}", email=f"v{n}@example.org")
    push(api, [event(f"r{n}", "RELEASED", subject=f"S-{n}", minutes=5) for n in range(50)])
    outsider, _ = staff_client("oz", matrix.AGENCY_OPERATOR, agency=other_agency)
    assert 'data-agency="pine"' not in outsider.get("/staff/feeds/releases/").content.decode()
    assert outsider.post("/staff/feeds/releases/pine/", {"decision": "approve"}).status_code == 403

    client, user = staff_client("ada", matrix.ADMINISTRATOR)
    user.user_permissions.add(Permission.objects.get(codename="review_snapshot"))
    page = client.get("/staff/feeds/releases/").content.decode()
    assert 'data-agency="pine"' in page and "<td>3</td>" in page
    response = client.post("/staff/feeds/releases/pine/", {"decision": "approve", "note": "confirmed"})
    assert response.status_code == 302
    assert released_messages() == 3
    assert CustodyEvent.objects.filter(event_id="r0", notified=True).exists()


def test_only_a_reviewer_may_decide(agency: Agency) -> None:
    user = User.objects.create_user("sam", is_staff=True)
    with pytest.raises(PermissionDenied):
        release_holds_reject(agency=agency, user=user)


def test_approving_stays_silent_about_a_release_a_newer_event_superseded(agency: Agency, api: Client) -> None:
    push(api, [event(f"b{n}", "BOOKED", subject=f"S-{n}") for n in range(100)])
    for n in range(2):
        subscribe(agency, f"S-{n}", email=f"v{n}@example.org")
    push(api, [event(f"r{n}", "RELEASED", subject=f"S-{n}", minutes=5) for n in range(50)])
    push(api, [event("b0-again", "BOOKED", subject="S-0", minutes=9)])  # re-booked since: the release is stale
    assert release_holds_approve(agency=agency, user=reviewer()) == 1
    assert list(Notification.objects.filter(template="event/RELEASED").values_list("event__event_id", flat=True)) == [
        "r1"]
