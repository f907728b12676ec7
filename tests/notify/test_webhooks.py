"""Twilio webhooks, called the way Twilio calls them: signed form posts to our public URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from twilio.request_validator import RequestValidator

from tests.conftest import event
from tests.custody.test_services import ingest
from tests.factories import subscribe
from tests.support.twilio_fake import FakeTwilio
from vinex.custody.models import Agency
from vinex.notify.channels import channels_build
from vinex.notify.models import Contact, DeliveryReceipt, Notification, NotificationStatus
from vinex.notify.worker import SendOutcome, Worker, notifications_claim, notifications_record

pytestmark = pytest.mark.django_db
NUMBER = "+12025550143"


def twilio_post(client: Client, path: str, params: dict[str, str], *, token: str = "test-auth-token") -> Any:
    signature = RequestValidator(token).compute_signature(f"https://vinex.example.org{path}", params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


@pytest.fixture
def sent_sms(agency: Agency, twilio_settings: FakeTwilio) -> Notification:
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, sms=NUMBER)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    Worker(channels=channels_build(), threads=1).run_once()
    return Notification.objects.get()


def test_a_delivery_receipt_marks_the_message_delivered(client: Client, sent_sms: Notification) -> None:
    for status in ("sent", "delivered"):
        response = twilio_post(client, "/webhooks/twilio/status",
                               {"MessageSid": sent_sms.provider_id, "MessageStatus": status})
        assert response.status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.status == NotificationStatus.DELIVERED and sent_sms.delivered_at
    assert list(DeliveryReceipt.objects.values_list("provider_status", flat=True)) == ["sent", "delivered"]


def test_a_late_sent_receipt_does_not_undo_delivered(client: Client, sent_sms: Notification) -> None:
    for status in ("delivered", "sent"):
        twilio_post(client, "/webhooks/twilio/status", {"MessageSid": sent_sms.provider_id, "MessageStatus": status})
    sent_sms.refresh_from_db()
    assert sent_sms.status == NotificationStatus.DELIVERED


def test_undelivered_to_a_landline_is_final(client: Client, sent_sms: Notification) -> None:
    twilio_post(client, "/webhooks/twilio/status",
                {"MessageSid": sent_sms.provider_id, "MessageStatus": "undelivered", "ErrorCode": "30006"})
    sent_sms.refresh_from_db()
    assert sent_sms.status == NotificationStatus.FAILED_PERMANENT and "30006" in sent_sms.last_error


def test_unreachable_handset_is_retried(client: Client, sent_sms: Notification) -> None:
    twilio_post(client, "/webhooks/twilio/status",
                {"MessageSid": sent_sms.provider_id, "MessageStatus": "undelivered", "ErrorCode": "30003"})
    sent_sms.refresh_from_db()
    assert sent_sms.status == NotificationStatus.FAILED_TRANSIENT


@pytest.mark.parametrize("token", ["wrong-token", None])
def test_forged_or_unsigned_webhooks_are_refused(client: Client, sent_sms: Notification, token: str | None) -> None:
    params = {"MessageSid": sent_sms.provider_id, "MessageStatus": "delivered"}
    response = twilio_post(client, "/webhooks/twilio/status", params, token=token) if token else client.post(
        "/webhooks/twilio/status", data=params)
    assert response.status_code == 403
    sent_sms.refresh_from_db()
    assert sent_sms.status == NotificationStatus.SENT


def test_a_tampered_body_is_refused(client: Client, sent_sms: Notification) -> None:
    params = {"MessageSid": sent_sms.provider_id, "MessageStatus": "sent"}
    signature = RequestValidator("test-auth-token").compute_signature(
        "https://vinex.example.org/webhooks/twilio/status", params)
    response = client.post("/webhooks/twilio/status", data=params | {"MessageStatus": "delivered"},
                           headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_stop_opts_out_at_once_and_start_opts_back_in(client: Client, agency: Agency,
                                                      twilio_settings: FakeTwilio) -> None:
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, sms=NUMBER, language="es")
    response = twilio_post(client, "/webhooks/twilio/sms", {"From": NUMBER, "Body": " stop "})
    assert response.status_code == 200 and "no recibirá más mensajes" in response.content.decode()
    assert Contact.objects.get().opted_out_at is not None
    ingest(agency, event("r1", "RELEASED", minutes=5))
    Worker(channels=channels_build(), threads=1).run_once()
    assert twilio_settings.messages == []
    twilio_post(client, "/webhooks/twilio/sms", {"From": NUMBER, "Body": "START"})
    assert Contact.objects.get().opted_out_at is None


def test_stop_suppresses_messages_already_queued(client: Client, agency: Agency, twilio_settings: FakeTwilio) -> None:
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, sms=NUMBER)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    twilio_post(client, "/webhooks/twilio/sms", {"From": NUMBER, "Body": "UNSUBSCRIBE"})
    Worker(channels=channels_build(), threads=1).run_once()
    assert twilio_settings.messages == []
    assert Notification.objects.get().status == NotificationStatus.SUPPRESSED


def test_help_answers_in_the_registrants_language(client: Client, agency: Agency, twilio_settings: FakeTwilio,
                                                 settings: Any) -> None:
    settings.VINEX_HOTLINE_NUMBER = "+1 555 010 0999"
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, sms=NUMBER, language="es")
    body = twilio_post(client, "/webhooks/twilio/sms", {"From": NUMBER, "Body": "Help"}).content.decode()
    assert "Para ayuda llame al +1 555 010 0999" in body
    assert Contact.objects.get().opted_out_at is None


def send_without_recording(twilio: FakeTwilio) -> tuple[SendOutcome, dict[str, str]]:
    """Claim and send the one queued message as the worker does, stopping before it records the send."""
    [claimed] = notifications_claim(worker="w:1", limit=10, now=timezone.now())
    started = timezone.now()
    result = channels_build()["sms"].send(claimed)
    return SendOutcome(claimed, started, timezone.now(), result=result), twilio.messages[-1]


def receipt_to_callback(client: Client, sent: dict[str, str], params: dict[str, str]) -> Any:
    """Post a receipt to the callback URL the message was sent with, as Twilio does."""
    callback = urlsplit(sent["StatusCallback"])
    return twilio_post(client, f"{callback.path}?{callback.query}", {"MessageSid": sent["Sid"], **params})


@pytest.fixture
def queued_sms(agency: Agency, twilio_settings: FakeTwilio) -> FakeTwilio:
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, sms=NUMBER)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    return twilio_settings


def test_a_delivered_receipt_faster_than_the_worker_is_applied_when_the_send_is_recorded(
    client: Client, queued_sms: FakeTwilio
) -> None:
    outcome, sent = send_without_recording(queued_sms)
    assert receipt_to_callback(client, sent, {"MessageStatus": "delivered"}).status_code == 204
    assert Notification.objects.get().status == NotificationStatus.SENDING  # kept until the send is recorded
    notifications_record(outcomes=[outcome], worker="w:1", now=timezone.now())
    n = Notification.objects.get()
    assert (n.status, n.attempts, n.provider_id) == (NotificationStatus.DELIVERED, 1, sent["Sid"])
    assert n.delivered_at is not None


def test_an_early_failure_receipt_schedules_the_retry_when_the_send_is_recorded(client: Client,
                                                                               queued_sms: FakeTwilio) -> None:
    outcome, sent = send_without_recording(queued_sms)
    receipt_to_callback(client, sent, {"MessageStatus": "undelivered", "ErrorCode": "30003"})
    notifications_record(outcomes=[outcome], worker="w:1", now=timezone.now())
    n = Notification.objects.get()
    assert n.status == NotificationStatus.FAILED_TRANSIENT and "30003" in n.last_error


def test_a_receipt_about_an_earlier_attempt_is_not_applied_to_the_next_one(client: Client,
                                                                           queued_sms: FakeTwilio) -> None:
    Worker(channels=channels_build(), threads=1).run_once()
    receipt_to_callback(client, queued_sms.messages[0], {"MessageStatus": "undelivered", "ErrorCode": "30003"})
    assert Notification.objects.get().status == NotificationStatus.FAILED_TRANSIENT
    Notification.objects.update(next_attempt_at=timezone.now())  # the retry is due
    Worker(channels=channels_build(), threads=1).run_once()
    assert len(queued_sms.messages) == 2
    assert Notification.objects.get().status == NotificationStatus.SENT


def test_a_late_delivered_receipt_does_not_revive_a_failed_message(client: Client, sent_sms: Notification) -> None:
    twilio_post(client, "/webhooks/twilio/status",
                {"MessageSid": sent_sms.provider_id, "MessageStatus": "undelivered", "ErrorCode": "30006"})
    twilio_post(client, "/webhooks/twilio/status", {"MessageSid": sent_sms.provider_id, "MessageStatus": "delivered"})
    sent_sms.refresh_from_db()
    assert sent_sms.status == NotificationStatus.FAILED_PERMANENT and sent_sms.delivered_at is None
    assert DeliveryReceipt.objects.count() == 2  # both kept as what the provider said
