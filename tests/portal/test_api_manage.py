"""The registrant's own controls in the API, with the manage token from her confirmation message: see the
registration, change language, call preference and contacts, and read her message history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.locator.people import book, ingest
from tests.portal.mail import deliver, last_code, manage_token, messages_to
from tests.portal.test_api import EMAIL, confirm, register, release_event, with_subject
from tests.support.smtp import SmtpServer, body_text
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency, Subject
from vinex.notify.models import Contact, Notification, Registrant

pytestmark = pytest.mark.django_db
SECOND = "second.address@example.org"


def rearrest(subject: Subject) -> None:
    ingest(subject.agency, {
        "event_id": "rebook-1", "type": "BOOKED", "occurred_at": (timezone.now() - timedelta(minutes=30)).isoformat(),
        "facility_code": "main",
        "subject": {"agency_subject_id": subject.agency_subject_id, "first_name": subject.first_name,
                    "last_name": subject.last_name},
    })


class Registered:
    def __init__(self, client: Client, registration_id: str, token: str, subject: Subject) -> None:
        self.client, self.id, self.token, self.subject = client, registration_id, token, subject

    def call(self, method: str, path: str = "", body: Any = None, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"}
        url = f"/api/v1/registrations/{self.id}{path}"
        if body is None:
            return getattr(self.client, method)(url, headers=headers)
        return getattr(self.client, method)(url, body, content_type="application/json", headers=headers)


@pytest.fixture
def registered(agency: Agency, smtp_settings: SmtpServer) -> Registered:
    subject = book(agency, "S-1")
    client = Client()
    registration_id = register(client, relationship="victim").json()["registration_id"]
    deliver()
    assert confirm(client, registration_id, EMAIL, last_code(smtp_settings, EMAIL)).json()["status"] == "active"
    deliver()
    return Registered(client, registration_id, manage_token(smtp_settings, EMAIL), subject)


def test_she_sees_her_registration_with_contacts_masked(registered: Registered) -> None:
    response = registered.call("get")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "active" and body["language"] == "en" and body["call_preference"] == "standard"
    assert body["person"]["name"] == "María José García Núñez"
    [contact] = body["contacts"]
    assert contact["contact"] == "a•••@example.org" and contact["verified"] and contact["receiving"]
    assert EMAIL not in response.content.decode()
    assert AuditEntry.objects.filter(action="view", object_id=registered.id).exists()


@pytest.mark.parametrize("method,path", [("get", ""), ("patch", ""), ("get", "/notifications"), ("delete", "")])
def test_a_wrong_token_is_401_exactly_like_an_unknown_registration(registered: Registered, method: str,
                                                                   path: str) -> None:
    body = {"language": "es"} if method == "patch" else None
    wrong = registered.call(method, path, body, token="not-the-token")
    missing = registered.call(method, path, body, token="")
    unknown = Registered(registered.client, "7f3c2a52-94c5-4c4e-9a1c-2a4cbd9f3f11", registered.token,
                         registered.subject).call(method, path, body)
    garbage = Registered(registered.client, "not-a-uuid", registered.token, registered.subject).call(method, path,
                                                                                                     body)
    for response in (wrong, missing, unknown, garbage):
        assert response.status_code == 401
        assert response.json() == wrong.json()
        assert response["WWW-Authenticate"] == 'Bearer realm="vinex registrations"'
    assert Registrant.objects.get().language == "en"


def test_a_token_opens_only_its_own_registration(registered: Registered, agency: Agency,
                                                smtp_settings: SmtpServer) -> None:
    other = Client()
    other_id = register(other, contacts=[{"channel": "email", "value": SECOND}]).json()["registration_id"]
    response = Registered(other, other_id, registered.token, registered.subject).call("get")
    assert response.status_code == 401


def test_she_changes_language_and_call_preference_and_it_is_audited(registered: Registered,
                                                                    smtp_settings: SmtpServer) -> None:
    response = registered.call("patch", body={"language": "es", "call_preference": "gentle"})
    assert response.status_code == 200, response.content
    assert (response.json()["language"], response.json()["call_preference"]) == ("es", "gentle")
    assert registered.call("get").json()["call_preference"] == "gentle"
    actions = set(AuditEntry.objects.filter(object_id=registered.id).values_list("action", flat=True))
    assert {"change_language", "change_call_preference"} <= actions
    release_event(registered.subject)
    deliver()
    assert with_subject(smtp_settings, "Aviso de custodia: puesta en libertad")


@pytest.mark.parametrize("body,loc", [
    ({"add_contacts": [{"channel": "fax", "value": "+12025550143"}]}, ["body", "add_contacts", 0, "channel"]),
    ({"call_preference": "sometimes"}, ["body", "call_preference"]),
    ({"language": "fr"}, ["body", "language"]),
    ({"add_contacts": [{"channel": "email", "value": "not an address"}]}, ["body", "add_contacts", 0, "value"]),
    ({"add_contacts": [{"channel": "voice", "value": "+12025550143"}]}, ["body", "pin"]),
    ({"remove_contacts": ["nobody@example.org"]}, ["body", "remove_contacts", 0]),
    ({"remove_contacts": [EMAIL]}, ["body", "contacts"]),
    ({"status": "active"}, ["body", "status"]),
])
def test_bad_changes_get_a_structured_422_and_change_nothing(registered: Registered, body: dict[str, Any],
                                                             loc: list[Any]) -> None:
    response = registered.call("patch", body={"language": "es", **body})
    assert response.status_code == 422, response.content
    detail = response.json()["detail"]
    # Schema errors name the body as ninja does (["body", "data", ...]); the services' as ["body", ...].
    assert any([p for p in d["loc"] if p != "data"] == loc for d in detail), detail
    assert Registrant.objects.get().language == "en"
    assert Contact.objects.count() == 1


def test_an_added_contact_receives_nothing_until_its_code_is_confirmed(registered: Registered,
                                                                       smtp_settings: SmtpServer) -> None:
    response = registered.call("patch", body={"add_contacts": [{"channel": "email", "value": SECOND}]})
    assert response.status_code == 200, response.content
    added = [c for c in response.json()["contacts"] if c["contact"] == "s•••@example.org"]
    assert added and not added[0]["verified"]
    release_event(registered.subject, "rel-1")
    deliver()
    [code_mail] = messages_to(smtp_settings, SECOND)
    assert "Your vinex code" in str(code_mail["Subject"])
    code = last_code(smtp_settings, SECOND)
    assert confirm(registered.client, registered.id, SECOND, code).status_code == 200
    rearrest(registered.subject)
    deliver()
    later = [m for m in messages_to(smtp_settings, SECOND) if "Custody update" in str(m["Subject"])]
    assert len(later) == 1 and "was booked into Pine County Jail" in body_text(later[0])


def test_she_removes_a_contact_and_it_stops_at_once(registered: Registered, smtp_settings: SmtpServer) -> None:
    registered.call("patch", body={"add_contacts": [{"channel": "email", "value": SECOND}]})
    deliver()
    confirm(registered.client, registered.id, SECOND, last_code(smtp_settings, SECOND))
    response = registered.call("patch", body={"remove_contacts": [EMAIL]})
    assert response.status_code == 200, response.content
    assert [c["contact"] for c in response.json()["contacts"]] == ["s•••@example.org"]
    before = len(messages_to(smtp_settings, EMAIL))
    release_event(registered.subject)
    deliver()
    assert len(messages_to(smtp_settings, EMAIL)) == before
    assert AuditEntry.objects.filter(action="remove_contact", object_id=registered.id).exists()


def test_no_calls_needs_a_way_to_write_to_her(registered: Registered) -> None:
    assert registered.call("patch", body={"call_preference": "none"}).status_code == 200  # she has an email


def test_her_message_history_says_what_was_sent_and_what_became_of_it(registered: Registered) -> None:
    release_event(registered.subject)
    deliver()
    Notification.objects.filter(template="event/RELEASED").update(status="delivered")
    response = registered.call("get", "/notifications")
    assert response.status_code == 200
    history = response.json()["notifications"]
    assert [m["template"] for m in history] == ["event/RELEASED", "registration_confirmed", "verification_code"]
    release = history[0]
    assert release["event_type"] == "RELEASED" and release["channel"] == "email"
    assert release["status"] == "delivered" and release["handed_over_at"] and release["contact"] == "a•••@example.org"
    assert release["attempts"][0]["outcome"] == "sent"
    assert AuditEntry.objects.filter(action="read", object_type="notification").exists()


def test_a_withdrawn_registration_cannot_be_changed(registered: Registered) -> None:
    assert registered.call("delete").status_code == 200
    response = registered.call("patch", body={"language": "es"})
    assert response.status_code == 409 and response.json()["detail"][0]["type"] == "not_active"


def test_the_openapi_document_shows_the_new_endpoints_with_structured_errors(client: Client) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    item = paths["/api/v1/registrations/{registration_id}"]
    assert {"get", "patch", "delete"} <= set(item)
    history = paths["/api/v1/registrations/{registration_id}/notifications"]["get"]
    for operation in (item["get"], item["patch"], history):
        for status in ("401", "422"):
            ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorResponse")
    patch_body = item["patch"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    call_preference = schema["components"]["schemas"][patch_body]["properties"]["call_preference"]
    assert "gentle" in str(call_preference)
