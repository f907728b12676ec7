"""The events handed to ``recorded`` (to render messages from) are built from what was just written, not read
back: they must be exactly what reading them back would give, or a victim's message would say otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import models

from tests.actors import ACTOR
from tests.conftest import event
from vinex.custody.ingest import IncomingEvent, Recorded, event_ingest, payload_hash
from vinex.custody.models import Agency, CustodyEvent
from vinex.custody.schemas import EventIn

pytestmark = pytest.mark.django_db
RELATED = ("subject__agency", "subject__facility", "facility", "to_facility")


def incoming(*raws: dict[str, Any]) -> list[IncomingEvent]:
    return [IncomingEvent(EventIn.model_validate(r), payload_hash(r)) for r in raws]


def columns(instance: models.Model | None) -> dict[str, Any] | None:
    if instance is None:
        return None
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def as_read_back(handed: CustodyEvent) -> dict[str, Any]:
    return {"event": columns(handed), "subject": columns(handed.subject), "agency": columns(handed.subject.agency),
            "subject_facility": columns(handed.subject.facility), "facility": columns(handed.facility),
            "to_facility": columns(handed.to_facility)}


def ingest_and_catch(agency: Agency, *raws: dict[str, Any]) -> list[CustodyEvent]:
    caught: list[Recorded] = []
    event_ingest(actor=ACTOR, agency=agency, events=incoming(*raws), followed=lambda people: people,
                 recorded=caught.append)
    return caught[0].events_to_notify


@pytest.mark.parametrize("count", [1, 3])
def test_the_events_to_notify_are_what_reading_them_back_gives(agency: Agency, count: int) -> None:
    ingest_and_catch(agency, *(event(f"b{n}", "BOOKED", subject=f"S-{n}") for n in range(count)))
    moves = [event(f"t{n}", "TRANSFERRED", subject=f"S-{n}", minutes=5, to_facility_code="annex") for n in range(count)]
    moves[0]["occurred_at"] = "2026-11-20T05:05:00-05:00"  # an agency's own offset: read back, it is UTC

    handed = ingest_and_catch(agency, *moves)

    stored = {e.event_id: e for e in CustodyEvent.objects.select_related(*RELATED).filter(event_id__startswith="t")}
    assert [e.event_id for e in handed] == [f"t{n}" for n in range(count)]
    assert all(e.notified and e.pk for e in handed)
    assert [as_read_back(e) for e in handed] == [as_read_back(stored[e.event_id]) for e in handed]
    assert str(handed[0].occurred_at.tzinfo) == str(stored["t0"].occurred_at.tzinfo)
