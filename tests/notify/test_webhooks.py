"""Twilio webhooks, called the way Twilio calls them: signed form posts to our public URL."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from tests.conftest import event
from tests.custody.test_services import ingest
from tests.factories import subscribe
from tests.support.twilio_fake import FakeTwilio
from vinex.custody.models import Agency
from vinex.notify.channels import channels_build
from vinex.notify.models import Contact, DeliveryReceipt, Notification, NotificationStatus
from vinex.notify.worker import Worker

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
