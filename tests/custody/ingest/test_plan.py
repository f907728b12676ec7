"""The ingest plan from plain data: no database, only the batch and the stored state handed to it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import T0, event
from vinex.custody import statemachine as sm
from vinex.custody.ingest import plan
from vinex.custody.ingest.incoming import IncomingEvent, ItemOutcome, payload_hash
from vinex.custody.ingest.plan import SubjectPlan
from vinex.custody.models import name_key
from vinex.custody.schemas import EventIn

AGENCY_ID = 7
WRITTEN_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
# Every column of a subject row, as the store reads them (the plan takes whichever columns it is given).
COLUMNS = ("id", "agency_id", "agency_subject_id", "person_id", "first_name", "last_name", "name_key",
           "date_of_birth", "country_of_birth", "a_number", "fbi_number", "state_id", "booking_number", "protected",
           "status", "status_reason", "facility_id", "status_changed_at", "scheduled_release_at", "last_event_at",
           "pending_events", "created_at", "updated_at")
BLANK = dict.fromkeys(COLUMNS, "") | {"id": None, "person_id": None, "protected": False, "status": "UNKNOWN",
                                      "facility_id": None, "date_of_birth": None, "status_changed_at": None,
                                      "scheduled_release_at": None, "last_event_at": None, "created_at": None,
                                      "pending_events": 0,
                                      "updated_at": None}


@dataclass(frozen=True)
class Fac:
    id: int
    code: str


FACILITIES = {"main": Fac(1, "main"), "annex": Fac(2, "annex")}


def incoming(*raws: dict[str, Any]) -> list[IncomingEvent]:
    return [IncomingEvent(EventIn.model_validate(r), payload_hash(r)) for r in raws]


def stored(key: str, *, status: str, facility: Fac | None, last_event_minutes: int, pk: int = 41,
           person: int = 90) -> tuple[Any, ...]:
    when = T0 + timedelta(minutes=last_event_minutes)
    values = BLANK | {"id": pk, "agency_id": AGENCY_ID, "agency_subject_id": key, "person_id": person,
                      "first_name": "Robin", "last_name": "Quill", "name_key": name_key("Robin", "Quill"),
                      "status": status, "facility_id": facility.id if facility else None, "status_changed_at": when,
                      "last_event_at": when, "created_at": when, "updated_at": when}
    return tuple(values[c] for c in COLUMNS)


@dataclass
class Worked:
    outcomes: list[ItemOutcome]
    plans: dict[str, SubjectPlan]
    rows: plan.Rows


def work_out(events: list[IncomingEvent], *, known: frozenset[str] = frozenset(), rows: Sequence[tuple[Any, ...]] = (),
             histories: dict[int, list[sm.EventFacts]] | None = None) -> Worked:
    """What the service does around the store's reads, with the reads' answers given here."""
    outcomes = [ItemOutcome(e.data.event_id, "accepted") for e in events]
    candidates = plan.screen("pine", FACILITIES, events, outcomes)
    grouped = plan.by_subject(plan.drop_known(candidates, outcomes, set(known)))
    codes: dict[int | None, str] = {f.id: f.code for f in FACILITIES.values()}
    subjects = plan.subjects_known(COLUMNS, rows, codes)
    for key, items in grouped.items():
        subjects.setdefault(key, plan.subject_new(key, AGENCY_ID, BLANK, items[0]))
    plans, _ = plan.plans_start(subjects, grouped)
    plan.plans_finish(plans, histories or {}, FACILITIES, outcomes)
    return Worked(outcomes, plans, plan.rows(AGENCY_ID, plans, WRITTEN_AT, WRITTEN_AT))


def statuses(worked: Worked) -> list[str]:
    return [o.status for o in worked.outcomes]


def test_a_new_person_is_booked_into_a_new_subject_row() -> None:
    worked = work_out(incoming(event("b1", "BOOKED")))

    assert statuses(worked) == ["accepted"]
    [new] = worked.rows.new_subjects
    assert (new.values["status"], new.values["facility_id"], new.values["first_name"]) == ("IN_CUSTODY", 1, "Robin")
    assert new.values["created_at"] == WRITTEN_AT and new.values["id"] is None  # the id comes when written
    [(subject, values)] = worked.rows.events
    assert subject is new and values["event_id"] == "b1" and values["notified"] is False


def test_unknown_facilities_and_copies_within_the_batch_are_screened_out() -> None:
    worked = work_out(incoming(event("b1", "BOOKED"), event("b1", "BOOKED"), event("b2", "BOOKED", facility="nowhere"),
                               event("t1", "TRANSFERRED", subject="S-2", to_facility_code="gone")))

    assert statuses(worked) == ["accepted", "duplicate", "rejected", "rejected"]
    assert worked.outcomes[2].errors[0]["loc"] == ["events", 2, "facility_code"]
    assert worked.outcomes[3].errors[0]["type"] == "unknown_facility"


def test_events_already_recorded_are_duplicates_and_write_nothing() -> None:
    worked = work_out(incoming(event("b1", "BOOKED")), known=frozenset({"b1"}))

    assert statuses(worked) == ["duplicate"]
    assert worked.rows.events == [] and worked.rows.new_subjects == []


def test_a_next_step_that_cannot_follow_yet_is_held_pending_and_the_rest_of_the_batch_goes_on() -> None:
    worked = work_out(incoming(event("r1", "RELEASED", minutes=5), event("b2", "BOOKED", subject="S-2")),
                      rows=[stored("S-1", status="RELEASED", facility=None, last_event_minutes=0)])

    assert statuses(worked) == ["pending", "accepted"]
    assert worked.outcomes[0].errors[0]["type"] == "early_event"
    assert [values["event_id"] for _, values in worked.rows.events] == ["r1", "b2"]  # recorded all the same
    assert worked.plans["S-1"].notifies == set()
    assert worked.plans["S-1"].subject.values["pending_events"] == 1


def test_the_newest_event_that_changes_what_a_victim_knows_notifies_and_only_it() -> None:
    worked = work_out(incoming(event("t1", "TRANSFERRED", minutes=10, to_facility_code="annex"),
                               event("r1", "RELEASED", minutes=20, facility="annex")),
                      rows=[stored("S-1", status="IN_CUSTODY", facility=FACILITIES["main"], last_event_minutes=0)])

    assert statuses(worked) == ["accepted", "accepted"]
    assert worked.plans["S-1"].notifies == {"r1"}
    assert plan.people_to_ask(plan.notifying(worked.plans)) == {90}
    assert plan.events_notifying(plan.notifying(worked.plans), followed={90}) == {"r1"}
    assert plan.events_notifying(plan.notifying(worked.plans), followed=set()) == set()


def test_a_late_event_is_history_and_never_notifies() -> None:
    booked = sm.EventFacts("b1", "BOOKED", T0, 1, "main")
    released = sm.EventFacts("r1", "RELEASED", T0 + timedelta(minutes=30), 2, "main", reason="bond")
    worked = work_out(incoming(event("t1", "TRANSFERRED", minutes=10, to_facility_code="annex")),
                      rows=[stored("S-1", status="RELEASED", facility=None, last_event_minutes=30)],
                      histories={41: [booked, released]})

    assert statuses(worked) == ["accepted"]
    assert worked.plans["S-1"].notifies == set()
    assert worked.plans["S-1"].after.status == "RELEASED"


def test_people_first_seen_in_the_batch_are_not_asked_about() -> None:
    worked = work_out(incoming(event("b1", "BOOKED")))

    assert worked.plans["S-1"].notifies == {"b1"}
    assert plan.people_to_ask(plan.notifying(worked.plans)) == set()  # nobody can follow a person who did not exist


def test_a_known_subject_writes_only_the_columns_that_changed() -> None:
    worked = work_out(incoming(event("t1", "TRANSFERRED", minutes=10, to_facility_code="annex")),
                      rows=[stored("S-1", status="IN_CUSTODY", facility=FACILITIES["main"], last_event_minutes=0)])

    [(columns, [row])] = worked.rows.subject_changes.items()
    assert set(columns) == {"facility_id", "last_event_at", "updated_at"}  # still in custody, same name
    assert dict(zip(columns, row, strict=False))["facility_id"] == 2 and row[-1] == 41


def test_contacts_an_agency_sent_are_handed_over_by_subject_id() -> None:
    booked = event("b1", "BOOKED")
    booked["subject"]["contacts"] = [{"kind": "phone", "value": "202-555-0143"}]
    worked = work_out(incoming(booked))

    carried = plan.contacts_carried(worked.plans)  # worked out before the write lock
    assert plan.contacts_given(carried) == {}  # a new subject has no id until it is written
    worked.plans["S-1"].subject.values["id"] = 5
    assert plan.contacts_given(carried) == {5: [("phone", "202-555-0143")]}


_ONE_EVENT = {
    "BOOKED": {}, "TRANSFERRED": {"to_facility_code": "annex"}, "RELEASED": {"reason": "bond"},
    "RELEASE_SCHEDULED": {"scheduled_for": (T0 + timedelta(days=9)).isoformat()}, "TEMPORARY_RELEASE": {},
    "RETURNED_TO_CUSTODY": {}, "REMOVED": {}, "ESCAPED": {}, "RECAPTURED": {}, "DECEASED": {},
    "HEARING_SCHEDULED": {"hearing_id": "h1", "scheduled_for": (T0 + timedelta(days=3)).isoformat()},
    "HEARING_CANCELLED": {"hearing_id": "h1"},
}


@pytest.mark.parametrize("status", ["IN_CUSTODY", "ON_LEAVE", "RELEASED", "ESCAPED", "DECEASED", None])
@pytest.mark.parametrize("type_", sorted(_ONE_EVENT))
def test_one_new_event_on_a_stored_state_is_what_replaying_it_from_that_state_gives(type_: str,
                                                                                     status: str | None) -> None:
    # The commonest plan (one event per person, newer than what is stored) takes a shorter way: it must
    # decide exactly what the replay does, whatever the event and the stored status.
    rows = [stored("S-1", status=status, facility=FACILITIES["main"], last_event_minutes=0)] if status else []
    worked = work_out(incoming(event("e1", type_, minutes=10, **_ONE_EVENT[type_])), rows=rows)

    subject_plan = worked.plans["S-1"]
    expected = sm.replay([i.facts for i in subject_plan.accepted], subject_plan.base)
    assert (subject_plan.after, subject_plan.held) == expected
    assert statuses(worked) == ["pending" if expected.held else "accepted"]
    tells = type_.startswith("HEARING") or (
        not expected.held and subject_plan.before.what_a_victim_knows() != expected.state.what_a_victim_knows())
    assert subject_plan.notifies == ({"e1"} if tells else set())
    assert subject_plan.subject.values["status"] == expected.state.status
    assert subject_plan.subject.values["pending_events"] == len(expected.held)
