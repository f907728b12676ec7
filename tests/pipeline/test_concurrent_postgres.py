"""Pushed events of one agency on several PostgreSQL connections at once: events about different people do
not wait for each other, while two copies of one event, or two events of one person, still go in turn.

SQLite lets one transaction write at a time, so there is nothing to observe there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from tests.actors import ACTOR
from tests.conftest import event
from vinex.audit.verify import audit_verify
from vinex.custody.ingest import IncomingEvent, event_ingest, payload_hash
from vinex.custody.models import Agency, CustodyEvent, Subject
from vinex.custody.schemas import EventIn

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 20.0  # seconds a thread waits for the other before the test gives up on it


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite lets one transaction write at a time: nothing runs side by side")


def incoming(*raws: dict[str, Any]) -> list[IncomingEvent]:
    return [IncomingEvent(EventIn.model_validate(r), payload_hash(r)) for r in raws]


class Pusher(threading.Thread):
    """One agency's push on its own connection; ``inside`` runs in its transaction, after its locks."""

    def __init__(self, agency: Agency, raws: list[dict[str, Any]], inside: Callable[[], None] = lambda: None) -> None:
        super().__init__()
        self.agency, self.raws, self.inside = agency, raws, inside
        self.statuses: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        def followed(person_ids: set[int]) -> set[int]:
            self.inside()
            return set()

        try:
            outcomes = event_ingest(agency=self.agency, events=incoming(*self.raws), actor=ACTOR, followed=followed)
            self.statuses = [o.status for o in outcomes]
        except BaseException as error:  # surfaced by the test: a thread cannot fail it
            self.error = error
        finally:
            connection.close()

    def result(self) -> list[str]:
        self.join(WAIT)
        assert not self.is_alive(), "the push never finished"
        if self.error is not None:
            raise self.error
        return self.statuses

    def start_and_wait(self) -> list[str]:
        self.start()
        return self.result()


def booked(agency: Agency, *subjects: str) -> None:
    Pusher(agency, [event(f"b-{s}", "BOOKED", subject=s) for s in subjects]).start_and_wait()


def held_open(first: Pusher, second: Pusher) -> tuple[bool, list[str], list[str]]:
    """Start ``first``, which stays inside its transaction until ``second`` has finished or the wait for it
    (``WAIT / 4``) has run out; returns whether ``second`` finished meanwhile, and both outcomes."""
    inside, second_done = threading.Event(), threading.Event()

    def hold() -> None:
        inside.set()
        # Longer than the wait for ``second`` below, which lets go of this one as soon as it has looked: a
        # hold that ran out first would let ``second`` through and look like two pushes side by side.
        second_done.wait(WAIT)

    first.inside = hold
    first.start()
    assert inside.wait(WAIT)
    second.start()
    second.join(WAIT / 4)
    finished_meanwhile = not second.is_alive()
    second_done.set()
    return finished_meanwhile, first.result(), second.result()


def test_events_about_different_people_of_one_agency_are_recorded_side_by_side(agency: Agency) -> None:
    booked(agency, "S-1", "S-2")
    first = Pusher(agency, [event("t-1", "TRANSFERRED", subject="S-1", minutes=5, to_facility_code="annex")])
    second = Pusher(agency, [event("t-2", "TRANSFERRED", subject="S-2", minutes=5, to_facility_code="annex")])

    side_by_side, one, two = held_open(first, second)

    assert side_by_side, "an event about S-2 waited for one about S-1"
    assert (one, two) == (["accepted"], ["accepted"])
    assert set(Subject.objects.values_list("facility__code", flat=True)) == {"annex"}
    assert audit_verify().ok  # entries appended by both, in turn, link up


def test_two_events_of_one_person_go_in_turn_and_both_count(agency: Agency) -> None:
    booked(agency, "S-1")
    first = Pusher(agency, [event("t-1", "TRANSFERRED", subject="S-1", minutes=5, to_facility_code="annex")])
    second = Pusher(agency, [event("t-2", "TRANSFERRED", subject="S-1", minutes=9, facility="annex",
                                   to_facility_code="main")])

    side_by_side, one, two = held_open(first, second)

    assert not side_by_side
    assert (one, two) == (["accepted"], ["accepted"])
    assert Subject.objects.filter(agency_subject_id="S-1").values_list("facility__code", flat=True).get() == "main"


def test_the_same_event_sent_twice_at_once_is_recorded_once(agency: Agency) -> None:
    booked(agency, "S-1", "S-2")
    transfer = event("t-1", "TRANSFERRED", subject="S-1", minutes=5, to_facility_code="annex")
    # A feed that reuses an event id for someone else: the id still names one event.
    reused = event("t-1", "TRANSFERRED", subject="S-2", minutes=5, to_facility_code="annex")

    side_by_side, one, two = held_open(Pusher(agency, [transfer]), Pusher(agency, [reused]))

    assert not side_by_side
    assert (one, two) == (["accepted"], ["duplicate"])
    assert CustodyEvent.objects.filter(event_id="t-1").count() == 1


def test_a_large_batch_waits_for_the_agency_s_pushes_in_progress(agency: Agency) -> None:
    booked(agency, "S-1")
    many = [event(f"b-N{n}", "BOOKED", subject=f"N-{n}") for n in range(40)]

    side_by_side, one, two = held_open(
        Pusher(agency, [event("t-1", "TRANSFERRED", subject="S-1", minutes=5, to_facility_code="annex")]),
        Pusher(agency, many))

    assert not side_by_side
    assert one == ["accepted"]
    assert two == ["accepted"] * 40
    assert audit_verify().ok
