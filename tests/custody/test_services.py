from __future__ import annotations

import random
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.actors import ACTOR
from tests.conftest import T0, event
from tests.factories import subscribe
from tests.support.threads import on_own_connections
from vinex.custody import statemachine as sm
from vinex.custody.models import Agency, CustodyEvent, Subject
from vinex.custody.schemas import EventIn
from vinex.notify.models import Notification
from vinex.pipeline import IncomingEvent, events_ingest, payload_hash

pytestmark = pytest.mark.django_db


def ingest(agency: Agency, *raws: dict[str, Any]) -> list[str]:
    incoming = [IncomingEvent(EventIn.model_validate(r), payload_hash(r)) for r in raws]
    return [o.status for o in events_ingest(actor=ACTOR, agency=agency, events=incoming)]


def subject(agency: Agency, key: str = "S-1") -> Subject:
    return Subject.objects.get(agency=agency, agency_subject_id=key)


def test_booking_creates_the_subject_in_custody(agency: Agency) -> None:
    assert ingest(agency, event("b1", "BOOKED")) == ["accepted"]
    s = subject(agency)
    assert (s.status, s.facility.code if s.facility else None, s.first_name) == ("IN_CUSTODY", "main", "Robin")


def test_resending_an_event_is_a_duplicate_and_changes_nothing(agency: Agency) -> None:
    ingest(agency, event("b1", "BOOKED"))
    assert ingest(agency, event("b1", "BOOKED"), event("b1", "BOOKED")) == ["duplicate", "duplicate"]
    assert CustodyEvent.objects.count() == 1


def test_the_same_id_twice_in_one_batch_is_recorded_once(agency: Agency) -> None:
    assert ingest(agency, event("b1", "BOOKED"), event("b1", "BOOKED")) == ["accepted", "duplicate"]


def test_an_event_that_cannot_follow_yet_is_held_pending_alone(agency: Agency) -> None:
    statuses = ingest(agency, event("b1", "BOOKED"), event("r1", "RELEASED", minutes=1),
                      event("r2", "RELEASED", minutes=2), event("b2", "BOOKED", subject="S-2"))
    assert statuses == ["accepted", "accepted", "pending", "accepted"]
    assert subject(agency, "S-2").status == "IN_CUSTODY"
    assert (subject(agency, "S-1").status, subject(agency, "S-1").pending_events) == ("RELEASED", 1)
    assert CustodyEvent.objects.filter(event_id="r2").exists()  # recorded, only held out of the status


def test_the_booking_that_explains_a_held_release_applies_it(agency: Agency) -> None:
    ingest(agency, event("b1", "BOOKED"), event("r1", "RELEASED", minutes=1), event("r2", "RELEASED", minutes=3))
    assert ingest(agency, event("b2", "BOOKED", minutes=2)) == ["accepted"]
    s1 = subject(agency, "S-1")
    assert (s1.status, s1.pending_events, s1.status_changed_at) == ("RELEASED", 0, T0 + timedelta(minutes=3))


def test_unknown_and_other_agencies_facilities_are_rejected(agency: Agency, other_agency: Agency) -> None:
    assert ingest(agency, event("b1", "BOOKED", facility="north"), event("b2", "BOOKED", facility="nowhere")) == [
        "rejected", "rejected"]
    assert not Subject.objects.exists()


def test_a_late_event_is_recorded_but_does_not_notify(agency: Agency) -> None:
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, email="v@example.org")
    ingest(agency, event("r1", "RELEASED", minutes=10))
    assert Notification.objects.count() == 1
    # The transfer happened before the release but arrives after it: history, not news.
    assert ingest(agency, event("t1", "TRANSFERRED", minutes=5, to_facility_code="annex")) == ["accepted"]
    assert Notification.objects.count() == 1
    assert subject(agency).status == "RELEASED"
    assert CustodyEvent.objects.get(event_id="t1").notified is False


def test_only_the_newest_event_of_a_batch_notifies(agency: Agency) -> None:
    ingest(agency, event("b0", "BOOKED"))
    subscribe(agency, email="v@example.org")
    ingest(agency, event("r1", "RELEASED", minutes=10), event("b1", "BOOKED", minutes=20),
           event("t1", "TRANSFERRED", minutes=30, to_facility_code="annex"))
    assert list(Notification.objects.values_list("event__event_id", flat=True)) == ["t1"]


def test_an_event_that_changes_nothing_a_victim_knows_is_silent(agency: Agency) -> None:
    ingest(agency, event("b0", "BOOKED"))
    subscribe(agency, email="v@example.org")
    ingest(agency, event("b1", "BOOKED", minutes=5))  # booked again into the same facility
    assert Notification.objects.count() == 0


def test_hearing_changes_notify_even_without_a_status_change(agency: Agency) -> None:
    ingest(agency, event("b0", "BOOKED"))
    subscribe(agency, email="v@example.org")
    ingest(agency, event("h1", "HEARING_SCHEDULED", minutes=5, hearing_id="H-7",
                         scheduled_for="2026-12-01T09:00:00-05:00", court_name="Pine Circuit Court"))
    ingest(agency, event("h2", "HEARING_RESCHEDULED", minutes=6, hearing_id="H-7",
                         scheduled_for="2026-12-08T09:00:00-05:00", court_name="Pine Circuit Court"))
    assert list(Notification.objects.order_by("id").values_list("event__event_id", flat=True)) == ["h1", "h2"]


def test_a_correction_of_a_wrong_release_tells_those_who_were_told(agency: Agency) -> None:
    ingest(agency, event("b0", "BOOKED"))
    subscribe(agency, email="v@example.org")
    ingest(agency, event("r1", "RELEASED", minutes=5))
    assert ingest(agency, event("c1", "CORRECTION", minutes=6, corrects_event_id="r1")) == ["accepted"]
    assert subject(agency).status == "IN_CUSTODY"
    assert list(Notification.objects.order_by("id").values_list("template", flat=True)) == [
        "event/RELEASED", "event/CORRECTION"]


def test_a_correction_naming_an_unknown_event_is_rejected(agency: Agency) -> None:
    ingest(agency, event("b0", "BOOKED"))
    assert ingest(agency, event("c1", "CORRECTION", minutes=6, corrects_event_id="nope")) == ["rejected"]


def test_descriptive_fields_follow_the_newest_event(agency: Agency) -> None:
    first = event("b0", "BOOKED")
    later = event("r0", "RELEASED", minutes=5)
    later["subject"] |= {"last_name": "Quill-Smith", "identifiers": {"a_number": "A-012-345-678"}}
    ingest(agency, first, later)
    s = subject(agency)
    assert (s.last_name, s.a_number) == ("Quill-Smith", "012345678")


def test_ingest_is_set_based(agency: Agency) -> None:
    raws = [event(f"b{n}", "BOOKED", subject=f"S-{n}") for n in range(300)]
    with CaptureQueriesContext(connection) as queries:
        ingest(agency, *raws)
    assert Subject.objects.count() == 300
    assert len(queries) < 30, [q["sql"][:80] for q in queries]


# --- Property: through the real service, any arrival order converges -------------------------------

SCRIPT = [
    event("e1", "BOOKED", minutes=0),
    event("e2", "TRANSFERRED", minutes=10, to_facility_code="annex", facility="main"),
    event("e3", "TEMPORARY_RELEASE", minutes=20, facility="annex"),
    event("e4", "RETURNED_TO_CUSTODY", minutes=30, facility="annex"),
    event("e5", "ESCAPED", minutes=40, facility="annex"),
    event("e6", "RECAPTURED", minutes=50, facility="annex"),
    event("e7", "RELEASE_SCHEDULED", minutes=55, facility="annex", scheduled_for="2026-12-24T12:00:00+00:00"),
    event("e8", "RELEASED", minutes=60, facility="annex", reason="parole"),
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.randoms(use_true_random=False), st.integers(1, 4))
def test_random_arrival_with_resends_reaches_the_in_order_state(agency: Agency, rng: random.Random,
                                                                batch_size: int) -> None:
    CustodyEvent.objects.all().delete()
    Subject.objects.all().delete()
    arrivals = SCRIPT + rng.sample(SCRIPT, k=3)  # some events are sent twice
    rng.shuffle(arrivals)
    pending = arrivals
    for _ in range(100):  # an agency re-sends what was rejected, as it is told to
        if not pending:
            break
        batch, pending = pending[:batch_size], pending[batch_size:]
        statuses = ingest(agency, *batch)
        pending += [raw for raw, status in zip(batch, statuses, strict=True) if status == "rejected"]
    assert not pending, "some events were never accepted"
    s = subject(agency)
    assert (s.status, s.status_reason, s.facility.code if s.facility else None) == ("RELEASED", "parole", "annex")
    assert CustodyEvent.objects.count() == len(SCRIPT)


def test_every_accepted_event_is_audited_and_the_chain_verifies(agency: Agency) -> None:
    from django.core.management import call_command

    from vinex.audit.models import AuditEntry

    ingest(agency, event("b1", "BOOKED"), event("b1", "BOOKED"), event("x", "RELEASED", facility="nowhere"))
    entries = list(AuditEntry.objects.filter(object_type="custody_event").values_list("actor", "action", "object_id"))
    assert entries == [("agency:pine", "create", "pine:b1")]
    call_command("audit", "verify")  # raises SystemExit on a broken chain


@pytest.mark.django_db(transaction=True)
def test_the_same_batch_sent_twice_at_once_is_recorded_once(agency: Agency) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection as conn

    raws = [event(f"b{n}", "BOOKED", subject=f"S-{n}") for n in range(200)]

    def send() -> list[str]:
        try:
            return ingest(agency, *raws)
        finally:
            conn.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(lambda _: send(), range(2))
    assert sorted([first.count("accepted"), second.count("accepted")]) == [0, 200]
    assert CustodyEvent.objects.count() == 200 and Subject.objects.count() == 200


def test_a_known_subject_keeps_what_a_newer_event_leaves_out(agency: Agency) -> None:
    booked = event("b1", "BOOKED")
    booked["subject"] |= {"date_of_birth": "1990-02-03", "country_of_birth": "mx",
                          "identifiers": {"a_number": "A-123 456 789", "booking_number": "BK1"}}
    ingest(agency, booked)
    created = subject(agency)
    released = event("r1", "RELEASED", minutes=5, reason="bond")
    released["subject"]["last_name"] = "Quill-Ortega"
    assert ingest(agency, released) == ["accepted"]
    s = subject(agency)
    assert (s.status, s.status_reason, s.last_name, s.name_key) == ("RELEASED", "bond", "Quill-Ortega",
                                                                     "robin|quill-ortega")
    assert (str(s.date_of_birth), s.country_of_birth, s.a_number, s.booking_number) == (
        "1990-02-03", "MX", "123456789", "BK1")
    assert (s.created_at, s.person_id, s.facility_id) == (created.created_at, created.person_id, created.facility_id)
    assert s.status_changed_at == s.last_event_at and s.updated_at > created.updated_at


def _at_once(*batches: list[dict[str, Any]]) -> list[list[str]]:
    """Ingest each batch from its own thread (and database connection), all starting together."""
    results: list[list[str]] = [[] for _ in batches]
    start = threading.Barrier(len(batches))
    agency = Agency.objects.get(code="pine")

    def send(position: int) -> None:
        start.wait()
        results[position] = ingest(agency, *batches[position])

    on_own_connections(send, len(batches))
    return results


@pytest.mark.django_db(transaction=True)
def test_a_batch_sent_twice_at_once_is_recorded_once(agency: Agency) -> None:
    # An agency re-sending a request that timed out while the first is still being recorded.
    batch = [event(f"b{i}", "BOOKED", subject=f"S-{i}") for i in range(300)]
    first, second = _at_once(batch, batch)
    assert sorted([set(first), set(second)], key=sorted) == [{"accepted"}, {"duplicate"}]
    assert CustodyEvent.objects.count() == 300


@pytest.mark.django_db(transaction=True)
def test_batches_about_the_same_people_at_once_leave_each_status_true_to_the_history(agency: Agency) -> None:
    people = [f"S-{i}" for i in range(60)]
    ingest(agency, *[event(f"b-{p}", "BOOKED", subject=p) for p in people])
    rng = random.Random(7)
    # Each batch moves everyone once, at times that interleave with the other batches'.
    batches = [
        [event(f"{n}-{p}", rng.choice(["TRANSFERRED", "RELEASED", "BOOKED"]), subject=p, minutes=rng.randint(1, 500),
               facility=rng.choice(["main", "annex"])) for p in people]
        for n in range(3)
    ]
    for batch in batches:
        for raw in batch:
            if raw["type"] == "TRANSFERRED":
                raw["to_facility_code"] = "annex" if raw["facility_code"] == "main" else "main"
    _at_once(*batches)
    for person in Subject.objects.filter(agency=agency):
        history = [
            sm.EventFacts(e.event_id, e.type, e.occurred_at, e.pk, e.facility.code,
                          e.to_facility.code if e.to_facility else None, e.reason)
            for e in person.events.select_related("facility", "to_facility")
        ]
        derived = sm.derive(history)
        assert (person.status, person.facility.code if person.facility else None) == (
            derived.status, derived.facility_code), person.agency_subject_id
        assert person.last_event_at == max(e.occurred_at for e in history)


def test_the_payload_hash_ignores_key_order_and_takes_any_text() -> None:
    assert payload_hash({"b": 1, "a": {"y": "é", "x": None}}) == payload_hash({"a": {"x": None, "y": "é"}, "b": 1})
    assert payload_hash({"a": "x"}) != payload_hash({"a": "y"})
    assert len(payload_hash({"a": "\ud800", "n": 10**30})) == 64  # what orjson refuses still hashes
