"""The custody status state machine: a pure function of the ordered event history.

Events are ordered by ``occurred_at`` and then by ``event_id`` (never by arrival), so the same events
give the same state whatever order they arrived in. ``replay`` folds them in that order and holds
(skips) each event that cannot follow the state reached so far (``transition_error``): an early event
whose explanation has not arrived yet. Holding is decided by the history alone, so an event held today
is applied by the replay that first includes the events that explain it, and a valid history, once
complete, holds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from operator import attrgetter
from typing import NamedTuple

from vinex.custody.models import CustodyStatus as S
from vinex.custody.models import EventType as E

HEARING_TYPES = frozenset({E.HEARING_SCHEDULED, E.HEARING_RESCHEDULED, E.HEARING_CANCELLED})

# Status an event leads to; None keeps the status (schedules, hearings).
TARGET_STATUS: dict[str, S | None] = {
    E.BOOKED: S.IN_CUSTODY,
    E.TRANSFERRED: S.IN_CUSTODY,
    E.RELEASE_SCHEDULED: None,
    E.RELEASED: S.RELEASED,
    E.TEMPORARY_RELEASE: S.ON_LEAVE,
    E.RETURNED_TO_CUSTODY: S.IN_CUSTODY,
    E.REMOVED: S.REMOVED,
    E.ESCAPED: S.ESCAPED,
    E.RECAPTURED: S.IN_CUSTODY,
    E.DECEASED: S.DECEASED,
    E.HEARING_SCHEDULED: None,
    E.HEARING_RESCHEDULED: None,
    E.HEARING_CANCELLED: None,
}

_ANY_LIVING = frozenset(set(S) - {S.DECEASED})
# Statuses from which an event may follow. UNKNOWN is always allowed: vinex may not have seen the
# earlier history (a feed that starts mid-story, or events still in flight).
ALLOWED_FROM: dict[str, frozenset[S]] = {
    E.BOOKED: _ANY_LIVING,
    E.TRANSFERRED: frozenset({S.IN_CUSTODY, S.UNKNOWN}),
    E.RELEASE_SCHEDULED: frozenset({S.IN_CUSTODY, S.ON_LEAVE, S.UNKNOWN}),
    E.RELEASED: frozenset({S.IN_CUSTODY, S.ON_LEAVE, S.UNKNOWN}),
    E.TEMPORARY_RELEASE: frozenset({S.IN_CUSTODY, S.UNKNOWN}),
    E.RETURNED_TO_CUSTODY: frozenset({S.ON_LEAVE, S.UNKNOWN}),
    E.REMOVED: frozenset({S.IN_CUSTODY, S.UNKNOWN}),
    E.ESCAPED: frozenset({S.IN_CUSTODY, S.ON_LEAVE, S.UNKNOWN}),
    E.RECAPTURED: frozenset({S.ESCAPED, S.ON_LEAVE, S.UNKNOWN}),
    E.DECEASED: _ANY_LIVING,
    E.HEARING_SCHEDULED: frozenset(S),
    E.HEARING_RESCHEDULED: frozenset(S),
    E.HEARING_CANCELLED: frozenset(S),
    E.CORRECTION: frozenset(S),
}


class EventFacts(NamedTuple):
    """What the state machine needs to know of one event (a tuple: ingestion builds thousands per batch)."""

    event_id: str
    type: str
    occurred_at: datetime
    seq: int
    facility_code: str
    to_facility_code: str | None = None
    reason: str = ""
    scheduled_for: datetime | None = None
    corrects_event_id: str = ""
    hearing_id: str = ""
    # True when the event has produced messages (so a replay that applies it again stays quiet).
    notified: bool = False

    @property
    def order_key(self) -> tuple[datetime, str]:
        return (self.occurred_at, self.event_id)

    @property
    def is_hearing(self) -> bool:
        return self.type in HEARING_TYPES


class CustodyState(NamedTuple):
    """Where a person stands (a tuple: ingestion folds thousands of histories per batch)."""

    status: S = S.UNKNOWN
    reason: str = ""
    facility_code: str | None = None
    status_changed_at: datetime | None = None
    scheduled_release_at: datetime | None = None

    def what_a_victim_knows(self) -> tuple[object, ...]:
        """The part of the state whose change is worth telling a registrant."""
        return (self.status, self.reason, self.facility_code, self.scheduled_release_at)


INITIAL = CustodyState()


def apply(state: CustodyState, event: EventFacts) -> CustodyState:
    """The state after ``event``; total, so an accepted history always folds."""
    if event.is_hearing or event.type == E.CORRECTION:
        return state
    if event.type == E.RELEASE_SCHEDULED:
        return state._replace(scheduled_release_at=event.scheduled_for, facility_code=event.facility_code)
    target = TARGET_STATUS[event.type]
    assert target is not None
    facility = event.to_facility_code if event.type == E.TRANSFERRED else event.facility_code
    reason = (event.reason or "unknown") if event.type == E.RELEASED else ""
    changed_at = state.status_changed_at if target == state.status else event.occurred_at
    # A release, removal, escape or death ends any scheduled release date.
    scheduled = state.scheduled_release_at if target in {S.IN_CUSTODY, S.ON_LEAVE} else None
    return CustodyState(target, reason, facility, changed_at, scheduled)


def corrected_ids(ordered: list[EventFacts]) -> set[str]:
    """Ids of events retracted by CORRECTION events.

    A CORRECTION names the event it retracts (``corrects_event_id``) or, when it names none, retracts
    the custody event just before it.
    """
    retracted: set[str] = set()
    previous: EventFacts | None = None
    for event in ordered:
        if event.type == E.CORRECTION:
            target = event.corrects_event_id or (previous.event_id if previous else "")
            if target:
                retracted.add(target)
        elif not event.is_hearing:
            previous = event
    return retracted


# EventFacts.order_key, as a C-level key function for sorting thousands of histories. Events at the same
# instant go by event_id: arrival order would make the state depend on the order events came in.
ORDER_KEY = attrgetter("occurred_at", "event_id")


def order(events: Iterable[EventFacts]) -> list[EventFacts]:
    return sorted(events, key=ORDER_KEY)


class Replay(NamedTuple):
    """A history folded: the state, and the events held because they cannot follow what came before
    them (by event id, with the reason)."""

    state: CustodyState
    held: dict[str, str]


def replay(events: Iterable[EventFacts], start: CustodyState = INITIAL) -> Replay:
    """Fold an event history (in any order) from ``start``, holding the events that do not fit.

    A left fold: appending events newer than all of ``events`` never changes which of them are held,
    so a state stored after a replay is a valid start for newer events.
    """
    ordered = order(events)
    retracted = corrected_ids(ordered) if ordered else set()
    state = start
    held: dict[str, str] = {}
    for event in ordered:
        if event.event_id in retracted:
            continue
        error = transition_error(state, event)
        if error is None:
            state = apply(state, event)
        else:
            held[event.event_id] = error
    return Replay(state, held)


def derive(events: Iterable[EventFacts], start: CustodyState = INITIAL) -> CustodyState:
    """The current custody state of an event history (in any order); held events count for nothing."""
    return replay(events, start).state


def transition_error(state: CustodyState, event: EventFacts) -> str | None:
    """Why ``event`` cannot follow ``state``, or None when it can."""
    if state.status not in ALLOWED_FROM[event.type]:
        return f"{event.type} is not possible while the person's status is {state.status}"
    if event.type == E.TRANSFERRED and state.facility_code and state.facility_code != event.facility_code:
        return (
            f"TRANSFERRED from facility {event.facility_code!r}, but the person is at {state.facility_code!r}"
        )
    return None
