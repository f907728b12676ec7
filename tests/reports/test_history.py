"""The vectorised replay gives the state machine's answer, event for event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from vinex.custody import statemachine as sm
from vinex.custody.models import EventType as E
from vinex.reports import history

T0 = datetime(2026, 7, 1, tzinfo=UTC)
FACILITIES = ["main", "annex", "north"]


def micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


event_draw = st.tuples(
    st.sampled_from(list(E.values)),
    st.integers(0, 12),  # minute: ties happen, and then the event ids decide
    st.sampled_from(FACILITIES), st.sampled_from(FACILITIES),
    st.one_of(st.none(), st.integers(0, 15)),  # a CORRECTION names an earlier-numbered event, or none
)
histories = st.lists(st.lists(event_draw, min_size=1, max_size=12), min_size=1, max_size=5)


def build(drawn: list[list[tuple[str, int, str, str, int | None]]]) -> tuple[dict[int, list[sm.EventFacts]],
                                                                               pl.DataFrame]:
    facts: dict[int, list[sm.EventFacts]] = {}
    rows = []
    seq = 0
    for subject, events in enumerate(drawn):
        ids: dict[str, int] = {}
        facts[subject] = []
        for n, (kind, minute, facility, to_facility, names) in enumerate(events):
            seq += 1
            event_id = f"s{subject}e{n}"
            ids[event_id] = seq
            corrects = f"s{subject}e{names}" if kind == E.CORRECTION and names is not None else ""
            to_code = to_facility if kind == E.TRANSFERRED else None
            facts[subject].append(sm.EventFacts(
                event_id=event_id, type=kind, occurred_at=T0 + timedelta(minutes=minute), seq=seq,
                facility_code=facility, to_facility_code=to_code, corrects_event_id=corrects))
        for event in facts[subject]:
            rows.append({
                "id": event.seq, "agency_id": 1, "subject_id": subject, "type": history.TYPES.index(event.type),
                "occurred_us": micros(event.occurred_at), "facility_id": FACILITIES.index(event.facility_code),
                "to_facility_id": FACILITIES.index(event.to_facility_code) if event.to_facility_code else None,
                "corrects_id": ids.get(event.corrects_event_id), "names_target": bool(event.corrects_event_id),
                # Among events at one instant, the state machine's order: by event_id, as text.
                "tie": sum(1 for other in facts[subject]
                           if other.occurred_at == event.occurred_at and other.event_id < event.event_id)})
    return facts, pl.DataFrame(rows, schema=history.EVENT_SCHEMA)


def contradictions(events: list[sm.EventFacts]) -> set[int]:
    """The events of one history that the state machine holds: they cannot follow the events before them."""
    held = sm.replay(events).held
    return {event.seq for event in events if event.event_id in held}


@settings(max_examples=300, deadline=None)
@given(histories, st.integers(0, 13))
def test_status_at_the_end_and_contradictions_are_the_state_machines(drawn, end_minute: int) -> None:
    facts, frame = build(drawn)
    end = T0 + timedelta(minutes=end_minute)
    events = history.ordered(frame)
    retracted = history.retractions(events)
    statuses = {row["subject_id"]: history.STATUSES[row["status"]]
                for row in history.statuses_at(events, retracted, micros(end)).iter_rows(named=True)}
    refused = set(history.contradictions_at(events, retracted, micros(end))["id"].to_list())
    expected_statuses, expected_refused = {}, set()
    for subject, subject_facts in facts.items():
        before = [e for e in subject_facts if e.occurred_at < end]
        if before:
            expected_statuses[subject] = sm.derive(before).status
            expected_refused |= contradictions(before)
    assert statuses == expected_statuses
    assert refused == expected_refused
