"""The reads of ingest: one statement for a small batch's known events and subjects gives what two give."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.actors import ACTOR
from tests.conftest import event
from tests.custody.ingest.test_service import incoming
from vinex.custody.ingest import event_ingest, store
from vinex.custody.models import Agency

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("extra", [0, 40], ids=["one statement", "a batch too large for one"])
def test_known_events_and_subjects_read_together_as_apart(agency: Agency, extra: int) -> None:
    event_ingest(actor=ACTOR, agency=agency, events=incoming(
        event("b1", "BOOKED"), event("b2", "BOOKED", subject="S-2"),
        event("r2", "RELEASED", subject="S-2", minutes=5, reason="bond")))
    event_ids = ["b1", "new-1", "r2", *(f"more-{n}" for n in range(extra))]
    keys = ["S-1", "S-3", "S-2", *(f"M-{n}" for n in range(extra))]

    known, rows = store.events_known_and_subjects(agency.id, event_ids, keys)

    assert known == store.event_ids_known(agency.id, event_ids) == {"b1", "r2"}
    key = store.SUBJECT_COLUMNS.index("agency_subject_id")
    assert sorted(rows, key=lambda r: r[key]) == sorted(store.subject_rows(agency.id, keys), key=lambda r: r[key])
    assert sorted(r[key] for r in rows) == ["S-1", "S-2"]
    by_key = {r[key]: dict(zip(store.SUBJECT_COLUMNS, r, strict=True)) for r in rows}
    assert by_key["S-2"]["status"] == "RELEASED"
    assert by_key["S-2"]["status_changed_at"].utcoffset().total_seconds() == 0  # aware, in UTC


def test_a_small_batch_with_a_known_event_id_reads_once(agency: Agency) -> None:
    event_ingest(actor=ACTOR, agency=agency, events=incoming(event("b1", "BOOKED")))
    with CaptureQueriesContext(connection) as queries:
        [again] = event_ingest(actor=ACTOR, agency=agency, events=incoming(event("b1", "BOOKED")))
    assert again.status == "duplicate"
    reads = [q["sql"] for q in queries.captured_queries if "custody_custodyevent" in q["sql"]]
    assert len(reads) == 1 and "custody_subject" in reads[0]
