"""Custody's ingest service on its own: it records events and knows nobody who listens."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.actors import ACTOR
from tests.conftest import event
from tests.factories import subscribe
from vinex.core.database import database_tick
from vinex.custody.ingest import IncomingEvent, Recorded, event_ingest, payload_hash
from vinex.custody.models import Agency, CustodyEvent, Subject, SubjectContact
from vinex.custody.schemas import EventIn
from vinex.notify.models import Notification

pytestmark = pytest.mark.django_db


def incoming(*raws: dict[str, Any]) -> list[IncomingEvent]:
    return [IncomingEvent(EventIn.model_validate(r), payload_hash(r)) for r in raws]


def test_without_a_listener_events_are_recorded_and_nobody_is_told(agency: Agency) -> None:
    event_ingest(actor=ACTOR, agency=agency, events=incoming(event("b1", "BOOKED")))
    subscribe(agency, email="v@example.org")

    outcomes = event_ingest(actor=ACTOR, agency=agency, events=incoming(event("r1", "RELEASED", minutes=10)))

    assert [o.status for o in outcomes] == ["accepted"]
    assert Subject.objects.get(agency_subject_id="S-1").status == "RELEASED"
    assert CustodyEvent.objects.get(event_id="r1").notified is False
    assert Notification.objects.count() == 0


def test_the_listener_is_asked_about_followed_people_and_handed_what_was_written(agency: Agency) -> None:
    event_ingest(actor=ACTOR,
                 agency=agency, events=incoming(event("b1", "BOOKED"), event("b2", "BOOKED", subject="S-2")))
    people = dict(Subject.objects.values_list("agency_subject_id", "person_id"))
    released = event("r1", "RELEASED", minutes=10)
    released["subject"]["contacts"] = [{"kind": "email", "value": "robin@example.org"}]
    asked: list[set[int]] = []
    handed: list[Recorded] = []

    def followed(person_ids: set[int]) -> set[int]:
        asked.append(person_ids)
        return {people["S-1"]}

    event_ingest(actor=ACTOR,
                 agency=agency, events=incoming(released, event("r2", "RELEASED", subject="S-2", minutes=10)),
                 followed=followed, recorded=handed.append)

    assert asked == [{people["S-1"], people["S-2"]}]
    [recorded] = handed
    assert [e.event_id for e in recorded.events_to_notify] == ["r1"]
    s1 = Subject.objects.get(agency_subject_id="S-1")
    assert recorded.contacts_by_subject == {s1.pk: [("email", "robin@example.org")]}
    assert dict(CustodyEvent.objects.filter(event_id__in=["r1", "r2"]).values_list("event_id", "notified")) == {
        "r1": True, "r2": False}
    assert SubjectContact.objects.count() == 0  # recording them is the listener's call


def story(subject: str) -> list[IncomingEvent]:
    """Booked, released, a late transfer, a copy of the booking and an early escape (held pending)."""
    return incoming(*(event(f"{subject}-{e['event_id']}", e["type"], subject=subject, minutes=m, **extra)
                      for e, m, extra in [
                          (event("b1", "BOOKED"), 0, {}), (event("r1", "RELEASED"), 20, {}),
                          (event("t1", "TRANSFERRED"), 10, {"to_facility_code": "annex"}),
                          (event("b1", "BOOKED"), 0, {}), (event("e1", "ESCAPED"), 30, {})]))


def test_a_batch_inside_an_open_transaction_is_worked_out_the_same_way(agency: Agency) -> None:
    outside = event_ingest(actor=ACTOR, agency=agency, events=story("S-1"))
    with transaction.atomic():
        inside = event_ingest(actor=ACTOR, agency=agency, events=story("S-2"))

    assert [o.status for o in inside] == [o.status for o in outside] == [
        "accepted", "accepted", "accepted", "duplicate", "pending"]
    s1, s2 = (Subject.objects.get(agency_subject_id=key) for key in ("S-1", "S-2"))
    assert (s1.status, s1.facility_id, s1.last_event_at) == (s2.status, s2.facility_id, s2.last_event_at)


@pytest.mark.django_db(transaction=True)
def test_a_large_batch_notices_what_was_recorded_while_it_was_worked_out(
        agency: Agency, caplog: pytest.LogCaptureFixture) -> None:
    # Another transaction records one of the batch's events after the batch has been worked out (before the
    # write lock) and before the batch gets the lock: the batch reports it as a duplicate and records the rest.
    holding, errors = threading.Event(), []

    def record_one_first() -> None:
        try:
            with transaction.atomic():  # holds the write lock (SQLite) or the agency's keys (PostgreSQL)
                event_ingest(actor=ACTOR, agency=agency, events=incoming(event("b7", "BOOKED", subject="S-7")))
                holding.set()
                time.sleep(1)  # meanwhile the batch is worked out, then waits for the lock
        except BaseException as error:  # surfaced below, a thread cannot fail the test itself
            errors.append(error)
        finally:
            connection.close()

    other = threading.Thread(target=record_one_first)
    other.start()
    assert holding.wait(timeout=30)
    with caplog.at_level(logging.INFO, logger="vinex.custody.ingest.service"):
        outcomes = event_ingest(actor=ACTOR, agency=agency,
                                events=incoming(*(event(f"b{n}", "BOOKED", subject=f"S-{n}") for n in range(20))))
    other.join()

    assert not errors
    assert "working it out again" in caplog.text
    assert [o.status for o in outcomes] == ["accepted"] * 7 + ["duplicate"] + ["accepted"] * 12
    assert CustodyEvent.objects.filter(agency=agency).count() == Subject.objects.filter(agency=agency).count() == 20


def test_a_large_batch_nobody_wrote_beside_reads_what_is_stored_once(agency: Agency) -> None:
    # On SQLite nothing another connection committed since the batch was worked out means nothing to check
    # again under the write lock; PostgreSQL (no such counter) reads again.
    event_ingest(actor=ACTOR, agency=agency, events=incoming(event("b0", "BOOKED", subject="S-0")))
    batch = incoming(*(event(f"r{n}", "RELEASED", subject=f"S-{n}", minutes=5) for n in range(20)))

    with CaptureQueriesContext(connection) as statements:
        outcomes = event_ingest(actor=ACTOR, agency=agency, events=batch)

    assert [o.status for o in outcomes] == ["accepted"] * 20
    reads = [q["sql"] for q in statements.captured_queries if q["sql"].startswith('SELECT "event_id" FROM')]
    assert len(reads) == (1 if connection.vendor == "sqlite" else 2)


def _events_in_the_database_file() -> int:
    """Events the database file itself holds, not counting what the write-ahead log still holds."""
    import sqlite3

    name = connection.settings_dict["NAME"]
    with sqlite3.connect(f"file:{name}?immutable=1", uri=True) as reader:  # immutable: the log is not read
        return int(reader.execute("SELECT count(*) FROM custody_custodyevent").fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_large_batches_copy_the_write_ahead_log_back_once_enough_events_were_written(
        agency: Agency, monkeypatch: pytest.MonkeyPatch) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL has no write-ahead log for ingest to copy back")
    from vinex.custody.ingest import service

    monkeypatch.setattr(service, "_log_copy", service._LogCopy(every=50))
    database_tick(now=timezone.now())  # the schema and the agency into the file, before any event
    batch = [event(f"a{i}", "BOOKED", subject=f"S-{i}") for i in range(30)]
    event_ingest(actor=ACTOR, agency=agency, events=incoming(*batch))
    assert _events_in_the_database_file() == 0  # 30 of 50: still only in the log

    batch = [event(f"b{i}", "BOOKED", subject=f"T-{i}") for i in range(30)]
    event_ingest(actor=ACTOR, agency=agency, events=incoming(*batch))
    assert _events_in_the_database_file() == 60


@pytest.mark.django_db(transaction=True)
def test_a_batch_inside_a_transaction_leaves_the_log_alone(agency: Agency, monkeypatch: pytest.MonkeyPatch) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL has no write-ahead log for ingest to copy back")
    from vinex.custody.ingest import service

    monkeypatch.setattr(service, "_log_copy", service._LogCopy(every=10))
    database_tick(now=timezone.now())
    with transaction.atomic():
        event_ingest(actor=ACTOR, agency=agency, events=incoming(
            *[event(f"a{i}", "BOOKED", subject=f"S-{i}") for i in range(30)]))
    assert _events_in_the_database_file() == 0
