"""The call-centre console through Django's test client: queue, intake, search, registration with the
code read out by the caller, callbacks, and the audit trail of every record viewed."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.test import Client

from tests.accounts.helpers import staff_client
from tests.locator.people import book
from tests.portal.mail import deliver, last_code
from tests.support.smtp import SmtpServer
from vinex.accounts import matrix
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency
from vinex.hotline.models import Callback, CallbackStatus, CallStatus, HotlineCall
from vinex.hotline.services import call_enqueue
from vinex.notify.models import CreatedVia, SubscriptionStatus
from vinex.registrations.models import Registration, RegistrationStatus

pytestmark = pytest.mark.django_db
EMAIL = "caller@example.org"


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def console() -> Client:
    return staff_client("kim", matrix.CALL_CENTRE)[0]


def start_call(client: Client) -> str:
    response = client.post("/staff/hotline/calls/new")
    assert response.status_code == 302
    return str(response["Location"])


def search_a_number(client: Client, call_url: str) -> Any:
    return client.post(call_url + "search", {"kind": "a_number", "a_number-a_number": "A123456789",
                                             "a_number-country_of_birth": "MX"})


def test_the_console_is_for_the_call_centre_only(agency: Agency) -> None:
    assert Client().get("/staff/hotline/").status_code in (302, 403)
    auditor = staff_client("ana", matrix.AUDITOR)[0]
    assert auditor.get("/staff/hotline/").status_code == 403


def test_queue_lists_waiting_calls_callbacks_and_unverified_registrations(agency: Agency, console: Client) -> None:
    call_enqueue(call_sid="CA" + "1" * 32, language="es")
    page = text(console.get("/staff/hotline/"))
    assert "New calls to take" in page and "Take call #" in page and "Español" in page
    waiting = HotlineCall.objects.get()
    taken = console.post(f"/staff/hotline/calls/{waiting.pk}/take")
    assert taken.status_code == 302
    waiting.refresh_from_db()
    assert waiting.status == CallStatus.OPEN and waiting.taken_by is not None
    other = staff_client("lee", matrix.CALL_CENTRE)[0]
    assert other.post(f"/staff/hotline/calls/{waiting.pk}/take").status_code == 409


def test_the_queue_is_in_spanish_too(agency: Agency, console: Client) -> None:
    page = text(console.get("/staff/hotline/", headers={"Accept-Language": "es"}))
    assert "Llamadas nuevas por atender" in page and "Devoluciones de llamada pendientes" in page
    call_url = start_call(console)
    page = text(console.get(call_url, headers={"Accept-Language": "es"}))
    assert "Buscar a la persona bajo custodia" in page and "Programar una devolución de llamada" in page
    assert "Nunca pregunte a quien llama por su situación migratoria" in page


def test_take_a_call_register_the_caller_and_verify_by_the_code_they_read_out(
        agency: Agency, console: Client, smtp_settings: SmtpServer) -> None:
    book(agency, "S-1")
    call_url = start_call(console)
    intake = console.post(call_url + "intake", {"intake-caller_name": "Rosa", "intake-language": "es",
                                                "intake-notes": "Prefers mornings."})
    assert intake.status_code == 302
    call = HotlineCall.objects.get()
    assert call.caller_name == "Rosa" and call.language == "es"

    found = text(search_a_number(console, call_url))
    assert "María José García Núñez" in found and "Pine County Jail" in found and "Pine County Sheriff" in found
    ref = re.search(r'name="ref" value="([^"]+)"', found)
    assert ref
    form = text(console.post(call_url + "register", {"ref": ref[1], "choose": "1"}))
    assert 'name="email"' in form and 'name="pin"' in form
    registered = console.post(call_url + "register", {"ref": ref[1], "language": "es", "email": EMAIL,
                                                      "relationship": "victim"})
    assert registered.status_code == 302
    registration = Registration.objects.get()
    assert registration.status == RegistrationStatus.PENDING
    assert registration.created_via == CreatedVia.HOTLINE
    assert registration.subscription.created_via == CreatedVia.HOTLINE
    assert list(call.registrations.all()) == [registration]
    assert "Registrations waiting for verification" in text(console.get("/staff/hotline/"))

    deliver()
    verification = registration.verifications.get()
    page = text(console.get(call_url))
    assert "c•••@example.org" in page and EMAIL not in page
    wrong = console.post(call_url + "code", {"verification": verification.pk, "code": "000000"})
    assert wrong.status_code == 422 and "That code is not right." in text(wrong)
    right = console.post(call_url + "code", {"verification": verification.pk, "code": last_code(smtp_settings, EMAIL)})
    assert "the registration is active" in text(right)
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.ACTIVE
    assert registration.subscription.status == SubscriptionStatus.ACTIVE

    ended = console.post(call_url + "end", {"end-outcome": "registered"})
    assert ended.status_code == 302
    call.refresh_from_db()
    assert call.status == CallStatus.CLOSED and call.outcome == "registered" and call.ended_at


def test_registration_errors_show_next_to_the_field(agency: Agency, console: Client) -> None:
    book(agency, "S-1")
    call_url = start_call(console)
    ref = re.search(r'name="ref" value="([^"]+)"', text(search_a_number(console, call_url)))
    assert ref
    response = console.post(call_url + "register", {"ref": ref[1], "language": "en", "voice": "+1 202 555 0143"})
    assert response.status_code == 422 and "Choose a 4-digit PIN to confirm our calls." in text(response)
    assert not Registration.objects.exists()


def test_every_record_viewed_is_audited(agency: Agency, console: Client) -> None:
    subject = book(agency, "S-1")
    call_url = start_call(console)
    search_a_number(console, call_url)
    call = HotlineCall.objects.get()
    viewed = AuditEntry.objects.filter(action="view")
    assert viewed.filter(object_type="person", object_id=str(subject.person_id), role="call_centre").exists()
    assert viewed.filter(object_type="hotline_call", object_id=str(call.pk)).exists()


def test_schedule_and_complete_a_callback_in_the_callers_time_zone(agency: Agency, console: Client) -> None:
    call_url = start_call(console)
    scheduled = console.post(call_url + "callback", {
        "callback-due": "2026-12-01T09:30", "callback-timezone": "America/Los_Angeles",
        "callback-phone": "(202) 555-0143", "callback-notes": "Ask for Rosa.",
    })
    assert scheduled.status_code == 302
    callback = Callback.objects.get()
    assert callback.due_at.isoformat() == "2026-12-01T17:30:00+00:00"
    queue = text(console.get("/staff/hotline/"))
    assert "2026-12-01 09:30" in queue and "America/Los_Angeles" in queue and "2026-12-01 17:30" in queue
    assert "+12025550143" not in queue  # numbers only on the callback's own, audited, page
    page = text(console.get(f"/staff/hotline/callbacks/{callback.pk}/"))
    assert "+12025550143" in page and "Ask for Rosa." in page
    assert AuditEntry.objects.filter(action="view", object_type="callback", object_id=str(callback.pk)).exists()
    done = console.post(f"/staff/hotline/callbacks/{callback.pk}/done", {"outcome": "reached", "notes": "Registered."})
    assert done.status_code == 302
    callback.refresh_from_db()
    assert callback.status == CallbackStatus.DONE and callback.outcome == "reached" and callback.completed_by
    again = console.post(f"/staff/hotline/callbacks/{callback.pk}/done", {"outcome": "reached"})
    assert again.status_code == 409


def test_notes_are_limited_encrypted_and_a_bad_number_is_explained(agency: Agency, console: Client,
                                                                  settings: Any) -> None:
    settings.VINEX_HOTLINE_NOTES_MAX = 20
    call_url = start_call(console)
    too_long = console.post(call_url + "intake", {"intake-language": "en", "intake-notes": "x" * 21})
    assert too_long.status_code == 422
    console.post(call_url + "intake", {"intake-language": "en", "intake-notes": "short note"})
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT notes FROM hotline_hotlinecall")
        (stored,) = cursor.fetchone()
    assert "short note" not in stored
    bad = console.post(call_url + "callback", {"callback-due": "2026-12-01T09:30",
                                               "callback-timezone": "America/Chicago", "callback-phone": "12"})
    assert bad.status_code == 422 and "Enter a valid phone number" in text(bad)


def test_staff_searches_are_rate_limited(agency: Agency, console: Client, settings: Any) -> None:
    settings.VINEX_HOTLINE_SEARCH_RATE = "2/minute"
    call_url = start_call(console)
    assert search_a_number(console, call_url).status_code == 200
    assert search_a_number(console, call_url).status_code == 200
    refused = search_a_number(console, call_url)
    assert refused.status_code == 429 and "Too many searches" in text(refused)


def test_a_callback_no_longer_needed_is_cancelled(agency: Agency, console: Client) -> None:
    call_url = start_call(console)
    console.post(call_url + "callback", {"callback-due": "2026-12-01T09:30", "callback-timezone": "America/Chicago",
                                         "callback-phone": "(202) 555-0143"})
    callback = Callback.objects.get()
    assert console.post(f"/staff/hotline/callbacks/{callback.pk}/cancel").status_code == 302
    callback.refresh_from_db()
    assert callback.status == CallbackStatus.CANCELLED
    assert "No callback is scheduled." in text(console.get("/staff/hotline/"))
