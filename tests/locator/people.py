"""People in custody for locator and portal tests, booked through the real event ingestion."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from tests.actors import ACTOR
from vinex.custody.models import Agency, Subject
from vinex.custody.schemas import EventIn
from vinex.pipeline import IncomingEvent, events_ingest, payload_hash


def ingest(agency: Agency, *raws: dict[str, Any]) -> None:
    incoming = [IncomingEvent(EventIn.model_validate(r), payload_hash(r)) for r in raws]
    outcomes = events_ingest(actor=ACTOR, agency=agency, events=incoming)
    assert [o.status for o in outcomes] == ["accepted"] * len(raws), [o.errors for o in outcomes]


def book(
    agency: Agency,
    subject_id: str,
    *,
    first_name: str = "María José",
    last_name: str = "García Núñez",
    country: str = "MX",
    a_number: str | None = "A123-456-789",
    booking_number: str | None = None,
    date_of_birth: date | None = date(1980, 5, 17),
    days_ago: int = 5,
    protected: bool = False,
) -> Subject:
    """Book someone into the agency's main facility ``days_ago`` days ago."""
    identifiers = {k: v for k, v in (("a_number", a_number), ("booking_number", booking_number)) if v}
    ingest(agency, {
        "event_id": f"{subject_id}-booked",
        "type": "BOOKED",
        "occurred_at": (timezone.now() - timedelta(days=days_ago)).isoformat(),
        "facility_code": "main",
        "subject": {
            "agency_subject_id": subject_id, "first_name": first_name, "last_name": last_name,
            "country_of_birth": country, "identifiers": identifiers or None,
            **({"date_of_birth": date_of_birth.isoformat()} if date_of_birth else {}),
        },
    })
    subject = Subject.objects.get(agency=agency, agency_subject_id=subject_id)
    if protected:
        Subject.objects.filter(pk=subject.pk).update(protected=True)
        subject.refresh_from_db()
    return subject


def release(agency: Agency, subject: Subject, *, days_ago: int) -> None:
    ingest(agency, {
        "event_id": f"{subject.agency_subject_id}-released",
        "type": "RELEASED",
        "reason": "bond",
        "occurred_at": (timezone.now() - timedelta(days=days_ago)).isoformat(),
        "facility_code": "main",
        "subject": {"agency_subject_id": subject.agency_subject_id, "first_name": subject.first_name,
                    "last_name": subject.last_name},
    })
