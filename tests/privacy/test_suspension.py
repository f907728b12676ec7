"""A privacy officer suspends a subscription and lifts it: audited, nothing sent meanwhile, the registrant
told in neutral words."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from tests.accounts.helpers import staff_client
from tests.conftest import event
from tests.factories import subscribe
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency
from vinex.notify.models import Notification, NotificationStatus, Subscription, SubscriptionStatus

pytestmark = pytest.mark.django_db


def push(api: Client, *events: dict[str, object]) -> None:
    response = api.post("/api/v1/custody-events", {"events": list(events)}, content_type="application/json")
    assert response.json()["accepted"] == len(events)


@pytest.fixture
def subscription(api: Client, agency: Agency) -> Subscription:
    agency.support_phone = "+1 555 010 0100"
    agency.save()
    push(api, event("e1", "BOOKED"))
    registrant = subscribe(agency, "S-1", email="victim@example.org", sms="+12025550143", language="es")
    return Subscription.objects.get(registrant=registrant)


def test_a_suspended_subscription_gets_nothing_until_lifted_and_the_registrant_is_told(
        api: Client, subscription: Subscription) -> None:
    officer, user = staff_client("pat", "privacy_officer")
    email = subscription.registrant.contacts.get(channel="email")
    queued = Notification.objects.create(subscription=subscription, contact=email,
                                         channel="email", template="t", language="es", body="queued before",
                                         next_attempt_at=timezone.now(), created_at=timezone.now())

    officer.post(f"/staff/privacy/subscriptions/{subscription.pk}/suspend/", {"reason": "suspected_misuse"})
    push(api, event("e2", "RELEASED", minutes=5))

    subscription.refresh_from_db()
    queued.refresh_from_db()
    assert subscription.status == SubscriptionStatus.SUSPENDED
    assert queued.status == NotificationStatus.SUPPRESSED
    told = Notification.objects.filter(template="subscription_suspended").order_by("channel")
    assert [n.channel for n in told] == ["email", "sms"]
    assert "en pausa" in told[0].body and "+1 555 010 0100" in told[0].body
    for text in (told[0].body, told[1].body, told[0].subject_line):
        assert "Robin" not in text and "Quill" not in text and "misuse" not in text  # no name, no reason
    assert not Notification.objects.filter(subscription=subscription, event__isnull=False).exists()
    assert AuditEntry.objects.filter(actor=f"user:{user.pk}", action="suspend", object_type="subscription",
                                     object_id=str(subscription.pk), purpose="reason suspected_misuse").exists()

    officer.post(f"/staff/privacy/subscriptions/{subscription.pk}/lift/")
    push(api, event("e3", "BOOKED", minutes=10))

    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert Notification.objects.filter(template="subscription_lifted").count() == 2
    assert Notification.objects.filter(subscription=subscription, event__event_id="e3").exists()
    assert AuditEntry.objects.filter(action="lift_suspension", object_id=str(subscription.pk)).exists()


def test_only_an_active_subscription_can_be_suspended_and_only_by_a_privacy_officer(
        subscription: Subscription) -> None:
    clerk, _ = staff_client("cat", "call_centre")
    officer, _ = staff_client("pat", "privacy_officer")

    assert clerk.post(f"/staff/privacy/subscriptions/{subscription.pk}/suspend/",
                      {"reason": "other"}).status_code == 403
    officer.post(f"/staff/privacy/subscriptions/{subscription.pk}/lift/")  # not suspended: nothing happens
    officer.post(f"/staff/privacy/subscriptions/{subscription.pk}/suspend/", {"reason": "because"})  # unknown reason

    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert not Notification.objects.filter(template__startswith="subscription_").exists()
    assert not AuditEntry.objects.filter(action__in=("suspend", "lift_suspension")).exists()
