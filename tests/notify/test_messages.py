from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.conftest import T0, event
from tests.custody.test_services import ingest
from vinex.custody.models import Agency, CustodyEvent, EventType, Subject
from vinex.notify.messages import format_release, gsm7_fold, render_event_message, sms_segments

pytestmark = pytest.mark.django_db

EXTRA = {
    "TRANSFERRED": {"to_facility_code": "annex"},
    "RELEASE_SCHEDULED": {"scheduled_for": (T0 + timedelta(days=2)).isoformat()},
    "HEARING_SCHEDULED": {"hearing_id": "H1", "scheduled_for": (T0 + timedelta(days=9)).isoformat(),
                          "court_name": "Pine County Circuit Court, Criminal Division, Courtroom 4B"},
    "HEARING_RESCHEDULED": {"hearing_id": "H1", "scheduled_for": (T0 + timedelta(days=9)).isoformat()},
    "HEARING_CANCELLED": {"hearing_id": "H1"},
}


def recorded(agency: Agency, type_: str, *, long_name: bool = False) -> CustodyEvent:
    raw = event(f"{type_}-1", type_, minutes=5, **EXTRA.get(type_, {}))
    if long_name:
        raw["subject"] |= {"first_name": "Maximiliano Bartolomé Sebastián", "last_name": "de la Santísima Trinidad"}
    booked = event("b0", "BOOKED")
    booked["subject"] = raw["subject"]
    ingest(agency, booked)
    if type_ == "CORRECTION":
        ingest(agency, event("r-x", "RELEASED", minutes=2))
    if type_ in ("RETURNED_TO_CUSTODY",):
        ingest(agency, event("t-x", "TEMPORARY_RELEASE", minutes=2))
    if type_ == "RECAPTURED":
        ingest(agency, event("e-x", "ESCAPED", minutes=2))
    ingest(agency, raw)
    return CustodyEvent.objects.select_related("subject__agency", "subject__facility").get(event_id=f"{type_}-1")


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("type_", [t.value for t in EventType])
def test_every_sms_fits_two_segments_and_says_how_to_stop(agency: Agency, type_: str, language: str) -> None:
    message = render_event_message(event=recorded(agency, type_, long_name=True), channel="sms", language=language,
                                   tier="verified_victim", unsubscribe_url="https://x.example/u/1/")
    assert sms_segments(message.body) <= 2, message.body
    assert "STOP" in message.body
    assert message.body == gsm7_fold(message.body)


@pytest.mark.parametrize("type_", [t.value for t in EventType])
def test_every_email_names_agency_facility_time_and_how_to_stop(agency: Agency, type_: str) -> None:
    message = render_event_message(event=recorded(agency, type_), channel="email", language="en", tier="public",
                                   unsubscribe_url="https://x.example/u/1/")
    assert "Pine County Sheriff" in message.body and "Pine County Jail" in message.body
    assert "https://x.example/u/1/" in message.body
    assert "Pine Victim Services at +1 555 010 0100" in message.body
    assert message.subject_line and "%(" not in message.body


def test_times_are_in_the_facilitys_time_zone_and_language(agency: Agency) -> None:
    released = recorded(agency, "RELEASED")  # 10:05 UTC = 05:05 in New York in November
    en = render_event_message(event=released, channel="email", language="en", tier="public", unsubscribe_url="u")
    es = render_event_message(event=released, channel="email", language="es", tier="public", unsubscribe_url="u")
    assert "Nov 20, 2026, 5:05 AM" in en.body
    assert "20 nov 2026, 5:05" in es.body and "fue puesto en libertad" in es.body
    assert es.subject_line == "Aviso de custodia: puesta en libertad"


def test_only_confirmed_victims_learn_the_release_date(agency: Agency) -> None:
    scheduled = recorded(agency, "RELEASE_SCHEDULED")
    public = render_event_message(event=scheduled, channel="sms", language="en", tier="public", unsubscribe_url="u")
    victim = render_event_message(event=scheduled, channel="sms", language="en", tier="verified_victim",
                                  unsubscribe_url="u")
    assert "Nov 22" not in public.body and "soon" in public.body
    assert "Nov 22, 2026" in victim.body


def test_messages_never_carry_identifiers_or_birth_dates(agency: Agency) -> None:
    raw = event("b0", "BOOKED")
    identifiers = {"a_number": "123456789", "booking_number": "BK77"}
    raw["subject"] |= {"date_of_birth": "1984-03-02", "identifiers": identifiers}
    ingest(agency, raw, event("r1", "RELEASED", minutes=5))
    released = CustodyEvent.objects.get(event_id="r1")
    for channel in ("sms", "email"):
        body = render_event_message(event=released, channel=channel, language="en", tier="verified_victim",
                                    unsubscribe_url="u").body
        assert "123456789" not in body and "BK77" not in body and "1984" not in body
    assert Subject.objects.get().a_number == "123456789"


def test_segment_counting() -> None:
    assert sms_segments("a" * 160) == 1 and sms_segments("a" * 161) == 2
    assert sms_segments("á" * 70) == 1 and sms_segments("á" * 71) == 2
    assert gsm7_fold("Está previsto “hoy”") == 'Esta previsto "hoy"'


def test_a_release_day_without_a_time_is_shown_as_the_day_alone() -> None:
    midnight_in_new_york = datetime.fromisoformat("2026-12-01T05:00:00+00:00")
    evening = datetime.fromisoformat("2026-12-01T22:30:00+00:00")

    assert format_release(midnight_in_new_york, "America/New_York", "en") == "Dec 1, 2026"
    assert format_release(midnight_in_new_york, "America/New_York", "es") == "1 dic 2026"
    assert format_release(evening, "America/New_York", "en") == "Dec 1, 2026, 5:30 PM EST"
