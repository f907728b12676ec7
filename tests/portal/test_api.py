from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.locator.people import book, ingest
from tests.portal.mail import deliver, last_code, manage_token, messages_to
from tests.support.smtp import SmtpServer, body_text
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency, Subject
from vinex.notify.models import Contact, Notification, NotificationStatus, Registrant, SubscriptionStatus
from vinex.registrations.models import Registration

pytestmark = pytest.mark.django_db
EMAIL = "ana.victim@example.org"


def subject_ref(client: Client) -> str:
    response = client.get("/api/v1/locator", {"a_number": "123456789", "country_of_birth": "MX"})
    return str(response.json()["results"][0]["subject_ref"])


def register(client: Client, **overrides: Any) -> Any:
    body = {"subject_ref": subject_ref(client), "language": "en",
            "contacts": [{"channel": "email", "value": EMAIL}], **overrides}
    return client.post("/api/v1/registrations", body, content_type="application/json")


def with_subject(smtp: SmtpServer, subject: str) -> list[Any]:
    return [m for m in messages_to(smtp, EMAIL) if m["Subject"] == subject]


def confirm(client: Client, registration_id: str, contact: str, code: str) -> Any:
    return client.post(f"/api/v1/registrations/{registration_id}/confirm", {"contact": contact, "code": code},
                       content_type="application/json")


def release_event(subject: Subject, event_id: str = "rel-1") -> None:
    # An hour ago: after the booking ``book`` makes days earlier, so the release is news, whatever today is.
    released_at = (timezone.now() - timedelta(hours=1)).isoformat()
    ingest(subject.agency, {
        "event_id": event_id, "type": "RELEASED", "reason": "bond", "occurred_at": released_at,
        "facility_code": "main",
        "subject": {"agency_subject_id": subject.agency_subject_id, "first_name": subject.first_name,
                    "last_name": subject.last_name},
    })


def test_register_confirm_then_receive_the_release_email(agency: Agency, smtp_settings: SmtpServer) -> None:
    subject = book(agency, "S-1")
    client = Client()
    response = register(client, relationship="victim")
    assert response.status_code == 202
    assert response.json()["status"] == "pending_verification"
    registration_id = response.json()["registration_id"]
    deliver()
    [code_mail] = messages_to(smtp_settings, EMAIL)
    assert "expires in 10 minutes" in body_text(code_mail)

    confirmed = confirm(client, registration_id, "  Ana.Victim@EXAMPLE.org ", last_code(smtp_settings, EMAIL))
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json() == {"registration_id": registration_id, "status": "active"}
    deliver()
    [registered] = with_subject(smtp_settings, "You are registered for custody updates")
    assert "María José García Núñez" in body_text(registered)

    release_event(subject)
    deliver()
    [released] = with_subject(smtp_settings, "Custody update: released")
    assert "was released from Pine County Jail" in body_text(released)
    subjects = [m["Subject"] for m in messages_to(smtp_settings, EMAIL)]
    assert subjects.index("You are registered for custody updates") < subjects.index("Custody update: released")


def test_nothing_is_sent_about_the_person_before_every_contact_is_confirmed(agency: Agency,
                                                                          smtp_settings: SmtpServer) -> None:
    subject = book(agency, "S-1")
    client = Client()
    registration_id = register(client, contacts=[{"channel": "email", "value": EMAIL},
                                                 {"channel": "email", "value": "second@example.org"}]).json()[
        "registration_id"]
    deliver()
    assert confirm(client, registration_id, EMAIL, last_code(smtp_settings, EMAIL)).json()["status"] == (
        "pending_verification")
    release_event(subject)
    deliver()
    assert len(messages_to(smtp_settings, EMAIL)) == 1  # only the code
    assert confirm(client, registration_id, "second@example.org",
                   last_code(smtp_settings, "second@example.org")).json()["status"] == "active"


def test_withdrawal_stops_messages_at_once_and_schedules_the_purge(agency: Agency,
                                                                  smtp_settings: SmtpServer) -> None:
    subject = book(agency, "S-1")
    client = Client()
    registration_id = register(client).json()["registration_id"]
    deliver()
    confirm(client, registration_id, EMAIL, last_code(smtp_settings, EMAIL))
    deliver()
    token = manage_token(smtp_settings, EMAIL)
    release_event(subject)  # queued, not yet delivered when the registrant withdraws

    url = f"/api/v1/registrations/{registration_id}"
    assert client.delete(url).status_code == 401
    assert client.delete(url, headers={"Authorization": "Bearer not-the-token"}).status_code == 401
    withdrawn = client.delete(url, headers={"Authorization": f"Bearer {token}"})
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"
    received = len(messages_to(smtp_settings, EMAIL))
    deliver()
    assert with_subject(smtp_settings, "Custody update: released") == []
    assert len(messages_to(smtp_settings, EMAIL)) == received
    assert Notification.objects.filter(template="event/RELEASED").get().status == NotificationStatus.SUPPRESSED
    registration = Registration.objects.get()
    assert registration.subscription.status == SubscriptionStatus.WITHDRAWN
    assert registration.purge_after is not None and registration.withdrawn_at is not None
    assert (registration.purge_after - registration.withdrawn_at).days == 30
    assert Registrant.objects.get().withdrawn_at is not None
    actions = list(AuditEntry.objects.filter(object_type="registration").values_list("action", "outcome"))
    assert actions == [("create", "ok"), ("privacy_check", "allow"), ("verify_contact", "active"),
                       ("withdraw", "ok")]


def test_a_wrong_code_counts_and_five_wrong_codes_lock_it(agency: Agency, smtp_settings: SmtpServer) -> None:
    book(agency, "S-1")
    client = Client()
    registration_id = register(client).json()["registration_id"]
    deliver()
    code = last_code(smtp_settings, EMAIL)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    first = confirm(client, registration_id, EMAIL, wrong)
    assert first.status_code == 422
    assert first.json()["detail"][0]["msg"] == "the code is not right; 4 attempts left"
    statuses = [confirm(client, registration_id, EMAIL, wrong).status_code for _ in range(4)]
    assert statuses == [422, 422, 422, 429]
    assert confirm(client, registration_id, EMAIL, code).status_code == 429  # even the right code, now


def test_resending_is_throttled(agency: Agency, smtp_settings: SmtpServer) -> None:
    book(agency, "S-1")
    client = Client()
    registration_id = register(client).json()["registration_id"]
    response = client.post(f"/api/v1/registrations/{registration_id}/resend", {"contact": EMAIL},
                           content_type="application/json")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_contacts_are_stored_encrypted_and_normalised(agency: Agency) -> None:
    book(agency, "S-1")
    register(Client(), contacts=[{"channel": "sms", "value": "(202) 555-0143"}], case_number=" CR-2026-1 ")
    assert Contact.objects.get().value == "+12025550143"
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM notify_contact")
        [(stored,)] = cursor.fetchall()
        cursor.execute("SELECT case_number FROM portal_registration")
        [(case,)] = cursor.fetchall()
    assert "2025550143" not in stored
    assert "CR-2026" not in case
    assert Registration.objects.get().case_number == "CR-2026-1"


@pytest.mark.parametrize(
    ("overrides", "loc"),
    [
        ({"subject_ref": "forged"}, ["body", "subject_ref"]),
        ({"contacts": [{"channel": "email", "value": "not-an-email"}]}, ["body", "contacts", 0, "value"]),
        ({"contacts": [{"channel": "sms", "value": "12"}]}, ["body", "contacts", 0, "value"]),
        ({"contacts": [{"channel": "email", "value": EMAIL}, {"channel": "email", "value": EMAIL.upper()}]},
         ["body", "contacts", 1, "value"]),
        ({"contacts": []}, ["body"]),
        ({"contacts": [{"channel": "fax", "value": "1"}]}, ["body"]),
        ({"language": "fr"}, ["body"]),
        ({"relationship": "landlord"}, ["body"]),
        ({"immigration_status": "x"}, ["body"]),
        ({"case_number": "x" * 65}, ["body"]),
    ],
)
def test_bad_registrations_get_a_clear_422_and_store_nothing(agency: Agency, overrides: dict[str, Any],
                                                             loc: list[Any]) -> None:
    book(agency, "S-1")
    response = register(Client(), **overrides)
    assert response.status_code == 422, response.content
    error = response.json()["detail"][0]
    assert error["loc"][: len(loc)] == loc
    assert error["msg"]
    assert not Registration.objects.exists() and not Contact.objects.exists()


@pytest.mark.parametrize("body", ["{", "[]", '"x"', ""])
def test_unparseable_bodies_never_give_500(agency: Agency, body: str) -> None:
    response = Client().post("/api/v1/registrations", body, content_type="application/json")
    assert response.status_code in (400, 422)
    assert "detail" in response.json()


def test_confirm_and_withdraw_bad_input(agency: Agency) -> None:
    book(agency, "S-1")
    client = Client()
    registration_id = register(client).json()["registration_id"]
    assert confirm(client, "nope", EMAIL, "123456").status_code == 404
    assert confirm(client, "00000000-0000-0000-0000-000000000000", EMAIL, "123456").status_code == 404
    assert confirm(client, registration_id, "other@example.org", "123456").status_code == 422
    assert confirm(client, registration_id, EMAIL, "").status_code == 422
    assert client.post(f"/api/v1/registrations/{registration_id}/confirm", "{", content_type="application/json"
                       ).status_code == 400
    assert client.delete("/api/v1/registrations/nope", headers={"Authorization": "Bearer x"}).status_code == 401


def test_registrations_are_rate_limited_per_address(agency: Agency, settings: Any) -> None:
    settings.VINEX_REGISTRATION_RATE = "2/hour"
    book(agency, "S-1")
    client = Client()
    codes = [register(client, contacts=[{"channel": "email", "value": f"p{i}@example.org"}]).status_code
             for i in range(3)]
    assert codes == [202, 202, 429]


def test_a_person_who_became_protected_waits_for_a_privacy_officer(agency: Agency, smtp_settings: SmtpServer) -> None:
    subject = book(agency, "S-1")
    client = Client()
    registration_id = register(client).json()["registration_id"]
    Subject.objects.filter(pk=subject.pk).update(protected=True)
    deliver()
    response = confirm(client, registration_id, EMAIL, last_code(smtp_settings, EMAIL))
    assert response.json()["status"] == "pending_review"  # as any held registration: protection is not revealed
    release_event(subject)
    deliver()
    assert len(messages_to(smtp_settings, EMAIL)) == 1


def test_a_number_for_calls_needs_a_pin_and_the_code_is_spoken_digit_by_digit(agency: Agency) -> None:
    book(agency, "S-1")
    client = Client()
    calls = [{"channel": "voice", "value": "+1 202 555 0143"}]
    missing = register(client, contacts=calls)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "pin"]
    assert register(client, contacts=calls, pin="12a4").json()["detail"][0]["type"] == "invalid_pin"
    assert register(client, contacts=calls, pin="2580").status_code == 202
    assert Registrant.objects.get().pin_hash
    assert "2580" not in Registrant.objects.get().pin_hash
    spoken = Notification.objects.get(template="verification_code").body
    assert re.search(r"(\d, ){5}\d\. (\d, ){5}\d", spoken)


def test_a_client_that_swept_the_locator_is_held_for_review(agency: Agency, smtp_settings: SmtpServer,
                                                            settings: Any) -> None:
    settings.VINEX_LOCATOR_RATE = settings.VINEX_LOCATOR_SESSION_RATE = "1000/minute"
    settings.VINEX_ABUSE_MAX_PEOPLE_LOOKED_UP = 3
    book(agency, "S-1")
    for n in range(3):
        book(agency, f"X-{n}", a_number=f"98765432{n}", booking_number=f"BK-{n}")
    sweeper, neighbour = Client(REMOTE_ADDR="198.51.100.7"), Client(REMOTE_ADDR="198.51.100.8")
    for n in range(3):
        sweeper.get("/api/v1/locator", {"agency": "pine", "booking_number": f"BK-{n}", "last_name": "García Núñez"})

    swept = register(sweeper).json()["registration_id"]
    deliver()
    swept_status = confirm(sweeper, swept, EMAIL, last_code(smtp_settings, EMAIL)).json()["status"]
    calm = register(neighbour, contacts=[{"channel": "email", "value": "calm@example.org"}]).json()["registration_id"]
    deliver()
    calm_status = confirm(neighbour, calm, "calm@example.org", last_code(smtp_settings, "calm@example.org")).json()

    assert swept_status == "pending_review"  # 4 different people looked up, the limit is 3
    assert "looked up 4 different people" in Registration.objects.get(public_id=swept).decision_reason
    assert calm_status["status"] == "active"
