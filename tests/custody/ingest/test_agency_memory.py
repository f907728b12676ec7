"""Ingest remembers an agency and its facilities for a few seconds (an agency pushing single events would
otherwise have them read for every request): a new facility still works at once, a change made in this
process shows at once, and one made elsewhere at most ``VINEX_AGENCY_CACHE_SECONDS`` later."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.actors import ACTOR
from tests.conftest import event
from tests.factories import subscribe
from vinex.core import memory
from vinex.custody.ingest import FacilitiesChanged, IncomingEvent, event_ingest, payload_hash, store
from vinex.custody.models import Agency, Facility, Subject
from vinex.custody.schemas import EventIn
from vinex.notify.models import Notification
from vinex.pipeline import events_ingest

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _remembering(settings: Any) -> None:
    settings.VINEX_AGENCY_CACHE_SECONDS = 60
    store.agency_forget()


def incoming(*raws: dict[str, Any]) -> list[IncomingEvent]:
    return [IncomingEvent(EventIn.model_validate(r), payload_hash(r)) for r in raws]


def _agency_reads(agency: Agency, *raws: dict[str, Any]) -> tuple[list[str], int]:
    with CaptureQueriesContext(connection) as queries:
        outcomes = event_ingest(actor=ACTOR, agency=agency, events=incoming(*raws))
    table = Agency._meta.db_table
    return [o.status for o in outcomes], sum(table in q["sql"] for q in queries.captured_queries)


def test_the_next_batch_does_not_read_the_agency_again(agency: Agency) -> None:
    assert _agency_reads(agency, event("b1", "BOOKED")) == (["accepted"], 1)
    assert _agency_reads(agency, event("t1", "TRANSFERRED", minutes=5, to_facility_code="annex")) == (["accepted"], 0)


def test_a_facility_added_by_another_process_is_used_at_once(agency: Agency) -> None:
    _agency_reads(agency, event("b1", "BOOKED"))
    # bulk_create sends no signal: as if another server process had added it
    Facility.objects.bulk_create([Facility(agency=agency, code="west", name="West Unit", timezone="UTC")])

    statuses, reads = _agency_reads(agency, event("t1", "TRANSFERRED", minutes=5, to_facility_code="west"))

    assert (statuses, reads) == (["accepted"], 1)


def test_an_unknown_facility_is_still_rejected(agency: Agency) -> None:
    _agency_reads(agency, event("b1", "BOOKED"))
    [outcome] = event_ingest(actor=ACTOR, agency=agency, events=incoming(event("b2", "BOOKED", facility="nowhere")))
    assert outcome.status == "rejected"
    assert outcome.errors[0]["type"] == "unknown_facility"


def _message_of(agency: Agency, raw: dict[str, Any]) -> str:
    events_ingest(actor=ACTOR, agency=agency, events=incoming(raw))
    return Notification.objects.filter(event__event_id=raw["event_id"]).get().body


def test_a_support_line_changed_in_this_process_is_in_the_next_message(agency: Agency) -> None:
    events_ingest(actor=ACTOR, agency=agency, events=incoming(event("b1", "BOOKED")))
    subscribe(agency, email="v@example.org")
    assert "+1 555 010 0100" in _message_of(agency, event("t1", "TRANSFERRED", minutes=5, to_facility_code="annex"))

    agency.support_phone = "+1 555 010 0199"
    agency.save()

    assert "+1 555 010 0199" in _message_of(agency, event("r1", "RELEASED", minutes=10))


def test_a_change_made_elsewhere_shows_once_the_memory_expires(agency: Agency, settings: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    settings.VINEX_AGENCY_CACHE_SECONDS = 5
    events_ingest(actor=ACTOR, agency=agency, events=incoming(event("b1", "BOOKED")))
    subscribe(agency, email="v@example.org")
    Agency.objects.filter(pk=agency.pk).update(support_phone="+1 555 010 0199")  # no signal: another process
    assert "+1 555 010 0100" in _message_of(agency, event("t1", "TRANSFERRED", minutes=5, to_facility_code="annex"))

    later = time.monotonic() + 6
    monkeypatch.setattr(memory.time, "monotonic", lambda: later)

    assert "+1 555 010 0199" in _message_of(agency, event("r1", "RELEASED", minutes=10))


def test_with_no_memory_every_batch_reads_the_agency(agency: Agency, settings: Any) -> None:
    settings.VINEX_AGENCY_CACHE_SECONDS = 0
    assert _agency_reads(agency, event("b1", "BOOKED")) == (["accepted"], 1)
    assert _agency_reads(agency, event("t1", "TRANSFERRED", minutes=5, to_facility_code="annex")) == (["accepted"], 1)


@pytest.mark.django_db(transaction=True)
def test_a_facility_deleted_by_another_process_rejects_the_event_instead_of_failing(agency: Agency) -> None:
    extra = Facility.objects.create(agency=agency, code="west", name="West Unit", timezone="UTC")
    _agency_reads(agency, event("b1", "BOOKED"))  # remembers every facility, "west" among them
    with connection.cursor() as cursor:  # no signal: as another process's admin would (no event names it)
        cursor.execute(f'DELETE FROM "{Facility._meta.db_table}" WHERE id = %s', [extra.pk])  # noqa: S608

    with pytest.raises(FacilitiesChanged):  # nothing written; the agency is read again next time
        event_ingest(actor=ACTOR, agency=agency, events=incoming(event("b2", "BOOKED", subject="S-2", facility="west")))
    [outcome] = event_ingest(actor=ACTOR, agency=agency,
                             events=incoming(event("b2", "BOOKED", subject="S-2", facility="west")))

    assert outcome.status == "rejected"
    assert outcome.errors[0]["type"] == "unknown_facility"
    assert not Subject.objects.filter(agency_subject_id="S-2").exists()


@pytest.mark.django_db(transaction=True)
def test_through_the_pipeline_the_batch_is_run_again_and_the_event_rejected(agency: Agency) -> None:
    extra = Facility.objects.create(agency=agency, code="west", name="West Unit", timezone="UTC")
    events_ingest(actor=ACTOR, agency=agency, events=incoming(event("b1", "BOOKED")))
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{Facility._meta.db_table}" WHERE id = %s', [extra.pk])  # noqa: S608

    outcomes = events_ingest(actor=ACTOR, agency=agency, events=incoming(
        event("b2", "BOOKED", subject="S-2", facility="west"), event("t1", "TRANSFERRED", minutes=5,
                                                                     to_facility_code="annex")))

    assert [o.status for o in outcomes] == ["rejected", "accepted"]
    assert outcomes[0].errors[0]["type"] == "unknown_facility"
