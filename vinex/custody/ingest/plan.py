"""What a batch of custody events does, worked out from plain data: no database here.

Given the batch, the facilities of the agency, which event ids are already recorded, the stored
subjects and the histories of those whose stored state cannot simply be folded forward, the plan says
each item's outcome (accepted, duplicate, rejected and why), each subject's new state, which new events
are worth telling a victim about (never one a newer event supersedes) and the values of the rows to
write. ``store`` reads and writes those rows; ``service`` holds the locks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any, Protocol

from vinex.custody import statemachine as sm
from vinex.custody.ingest.incoming import IncomingEvent, ItemOutcome
from vinex.custody.models import CustodyStatus, EventType, name_key
from vinex.custody.schemas import EventIn


class FacilityRef(Protocol):
    """What the plan needs of a facility (a ``Facility`` row fits)."""

    @property
    def id(self) -> int: ...

    @property
    def code(self) -> str: ...


@dataclass(slots=True)
class Pending:
    """An event that passed the per-item checks and waits for its subject's history."""

    index: int
    incoming: IncomingEvent
    facts: sm.EventFacts
    facility: FacilityRef
    to_facility: FacilityRef | None
    subject_fields: dict[str, Any]


@dataclass(slots=True)
class SubjectRecord:
    """A subject's row as ingestion reads and writes it: a plain record rather than a model instance,
    because building thousands of instances (and their facilities) costs more than the rows.

    ``values`` holds every column of the row by attname (``id`` is None until a new subject is written);
    ``row`` is the row as read, to tell whether it changed since, and ``stored`` the same by attname.
    """

    key: str
    values: dict[str, Any]
    facility_code: str | None = None
    row: tuple[Any, ...] | None = None
    stored: dict[str, Any] | None = None


@dataclass(slots=True)
class SubjectPlan:
    subject: SubjectRecord
    base: sm.CustodyState
    history: list[sm.EventFacts]
    # What registrants were last told about, to tell whether the new events change it.
    before: sm.CustodyState
    accepted: list[Pending] = field(default_factory=list)
    after: sm.CustodyState = sm.INITIAL
    # The new events a follower of this person should hear about.
    notifies: set[str] = field(default_factory=set)


# New events sort after every stored one that shares their occurred_at, as their ids will.
_PROVISIONAL_SEQ = 1 << 62
_IDENTIFIER_FIELDS = ("a_number", "fbi_number", "state_id", "booking_number")
_STATUS = {str(status): status for status in CustodyStatus}  # a dict lookup costs a tenth of CustodyStatus(value)
_ARRIVAL = itemgetter(0)


def _reject(index: int, loc: str, msg: str, kind: str) -> list[dict[str, Any]]:
    return [{"loc": ["events", index, loc], "msg": msg, "type": kind}]


# --- Per item ---------------------------------------------------------------------------------------


def screen(agency_code: str, facilities: Mapping[str, FacilityRef], events: Sequence[IncomingEvent],
           outcomes: list[ItemOutcome]) -> list[Pending]:
    """Per-item checks that need no stored state: facilities, and copies of one event within the batch."""
    seen: set[str] = set()
    pending: list[Pending] = []
    for index, incoming in enumerate(events):
        data = incoming.data
        if data.event_id in seen:
            outcomes[index].status = "duplicate"
            continue
        facility = facilities.get(data.facility_code)
        to_facility = facilities.get(data.to_facility_code) if data.to_facility_code else None
        if facility is None:
            outcomes[index] = ItemOutcome(data.event_id, "rejected", _reject(
                index, "facility_code", f"agency {agency_code} has no facility {data.facility_code!r}",
                "unknown_facility"))
            continue
        if data.to_facility_code and to_facility is None:
            outcomes[index] = ItemOutcome(data.event_id, "rejected", _reject(
                index, "to_facility_code", f"agency {agency_code} has no facility {data.to_facility_code!r}",
                "unknown_facility"))
            continue
        seen.add(data.event_id)
        facts = sm.EventFacts(
            data.event_id, data.type, data.occurred_at, _PROVISIONAL_SEQ + index, data.facility_code,
            data.to_facility_code, data.reason or "", data.scheduled_for, data.corrects_event_id or "",
            data.hearing_id or "",
        )
        pending.append(Pending(index, incoming, facts, facility, to_facility, _subject_fields(data)))
    return pending


def drop_known(candidates: list[Pending], outcomes: list[ItemOutcome], known: set[str]) -> list[Pending]:
    """Mark events already recorded as duplicates; the rest go on."""
    if not known:
        return candidates
    for item in candidates:
        if item.facts.event_id in known:
            outcomes[item.index] = ItemOutcome(item.facts.event_id, "duplicate")
    return [item for item in candidates if item.facts.event_id not in known]


def _subject_fields(data: EventIn) -> dict[str, Any]:
    """The subject's descriptive fields an event carries; identifiers it omits are left alone."""
    s = data.subject
    fields: dict[str, Any] = {
        "first_name": s.first_name,
        "last_name": s.last_name,
        "name_key": name_key(s.first_name, s.last_name),
    }
    if s.date_of_birth:
        fields["date_of_birth"] = s.date_of_birth
    if s.country_of_birth:
        fields["country_of_birth"] = s.country_of_birth
    identifiers = s.identifiers
    if identifiers is not None:
        for name in _IDENTIFIER_FIELDS:
            value = getattr(identifiers, name)
            if value:
                fields[name] = value
    return fields


# --- Per subject ------------------------------------------------------------------------------------


def by_subject(pending: list[Pending]) -> dict[str, list[Pending]]:
    """The items of each subject (by the agency's id for them), in arrival order."""
    grouped: dict[str, list[Pending]] = defaultdict(list)
    for item in pending:
        grouped[item.incoming.data.subject.agency_subject_id].append(item)
    return grouped


def subjects_known(columns: Sequence[str], rows: Iterable[tuple[Any, ...]],
                   codes: Mapping[int | None, str]) -> dict[str, SubjectRecord]:
    """Records of stored subjects from their rows (``columns`` names the values of each row)."""
    found: dict[str, SubjectRecord] = {}
    for row in rows:
        values = dict(zip(columns, row, strict=True))
        found[values["agency_subject_id"]] = SubjectRecord(values["agency_subject_id"], values,
                                                           codes.get(values["facility_id"]), row, dict(values))
    return found


def subject_new(key: str, agency_id: int, blank: Mapping[str, Any], item: Pending) -> SubjectRecord:
    """A subject first seen in this batch: the model's defaults, then what its first event says."""
    values = {**blank, "agency_id": agency_id, "agency_subject_id": key, **item.subject_fields}
    return SubjectRecord(key, values)


def plans_start(subjects: Mapping[str, SubjectRecord], grouped: Mapping[str, list[Pending]]) -> tuple[
    dict[str, SubjectPlan], list[int]
]:
    """A plan per subject, and the ids of the subjects whose stored history must be read: those whose
    stored state is no valid starting point for the new events (a late event, a correction)."""
    plans: dict[str, SubjectPlan] = {}
    needs_history: list[int] = []
    for key, items in grouped.items():
        subject = subjects[key]
        stored = _stored_state(subject)
        if _can_fold_forward(subject, items):
            plans[key] = SubjectPlan(subject, stored, [], stored, items)
        else:
            plans[key] = SubjectPlan(subject, sm.INITIAL, [], stored, items)
            assert subject.values["id"] is not None  # a subject with stored events has a row
            needs_history.append(subject.values["id"])
    return plans, needs_history


def _can_fold_forward(subject: SubjectRecord, items: list[Pending]) -> bool:
    """True when the stored state is a valid starting point: every new event is newer than it."""
    last_event_at = subject.values["last_event_at"]
    if last_event_at is None:
        return True
    if any(i.facts.type == EventType.CORRECTION for i in items):
        return False
    return all(i.facts.occurred_at >= last_event_at for i in items)


def _stored_state(subject: SubjectRecord) -> sm.CustodyState:
    if subject.stored is None:
        return sm.INITIAL
    values = subject.values
    return sm.CustodyState(
        status=_STATUS[values["status"]],
        reason=values["status_reason"],
        facility_code=subject.facility_code,
        status_changed_at=values["status_changed_at"],
        scheduled_release_at=values["scheduled_release_at"],
    )


def plans_finish(plans: Mapping[str, SubjectPlan], histories: Mapping[int, list[sm.EventFacts]],
                 facilities: Mapping[str, FacilityRef], outcomes: list[ItemOutcome]) -> None:
    """Attach the histories read, accept or reject each event, and fold each subject's new state."""
    for plan in plans.values():
        history = histories.get(plan.subject.values["id"])
        if history is not None:
            plan.history = list(history)
    _decide(plans, outcomes)
    for plan in plans.values():
        if plan.accepted:
            plan.after = sm.derive(plan.history, plan.base)
            _apply_state(plan, facilities)
            plan.notifies = _events_to_notify(plan)


def _newest_key(plan: SubjectPlan) -> tuple[datetime, int] | None:
    keys = [e.order_key for e in plan.history]
    last_event_at = plan.subject.values["last_event_at"]
    if last_event_at is not None:
        # Stored events sort before new ones at the same instant (arrival order), hence seq 0.
        keys.append((last_event_at, 0))
    return max(keys) if keys else None


def _decide(plans: Mapping[str, SubjectPlan], outcomes: list[ItemOutcome]) -> None:
    """Accept or reject each subject's events in arrival order.

    An event that lands at the end of the history must be a possible next step from the current
    state; one that lands in the middle (late) is accepted as recorded history, because the events
    between may not have reached us.
    """
    for plan in plans.values():
        accepted: list[Pending] = []
        newest = _newest_key(plan)
        for item in plan.accepted:
            key = item.facts.order_key
            if newest is None or key > newest:
                error = _check(plan, item)
                if error:
                    outcomes[item.index] = ItemOutcome(
                        item.facts.event_id, "rejected", _reject(item.index, "type", error, "invalid_transition")
                    )
                    continue
                newest = key
            plan.history.append(item.facts)
            accepted.append(item)
        plan.accepted = accepted


def _check(plan: SubjectPlan, item: Pending) -> str | None:
    if item.facts.type == EventType.CORRECTION:
        custody = [e for e in plan.history if not e.is_hearing and e.type != EventType.CORRECTION]
        ids = {e.event_id for e in custody}
        if item.facts.corrects_event_id and item.facts.corrects_event_id not in ids:
            return f"CORRECTION names event {item.facts.corrects_event_id!r}, which this person's history lacks"
        if not custody:
            return "CORRECTION with no earlier event to correct"
        return None
    return sm.transition_error(sm.derive(plan.history, plan.base), item.facts)


def _apply_state(plan: SubjectPlan, facilities: Mapping[str, FacilityRef]) -> None:
    """Store the derived state, and the descriptive fields of the newest event, on the subject."""
    subject, after = plan.subject, plan.after
    values = subject.values
    newest = max(plan.history, key=sm.ORDER_KEY)
    if values["last_event_at"] is None or newest.occurred_at >= values["last_event_at"]:
        values["last_event_at"] = newest.occurred_at
        newest_item = next((i for i in plan.accepted if i.facts.event_id == newest.event_id), None)
        if newest_item is not None:
            values.update(newest_item.subject_fields)
    values["status"] = after.status
    values["status_reason"] = after.reason
    facility = facilities.get(after.facility_code) if after.facility_code else None
    values["facility_id"], subject.facility_code = (facility.id, facility.code) if facility else (None, None)
    values["status_changed_at"] = after.status_changed_at
    values["scheduled_release_at"] = after.scheduled_release_at


def _events_to_notify(plan: SubjectPlan) -> set[str]:
    """The new events a registrant should hear about: the newest custody event when it changes what a
    victim knows, and the latest word on each hearing; never one a newer event supersedes."""
    new_ids = {i.facts.event_id for i in plan.accepted}
    ordered = sm.order(plan.history)
    notify: set[str] = set()
    custody = [e for e in ordered if not e.is_hearing]
    if (custody and custody[-1].event_id in new_ids
            and plan.before.what_a_victim_knows() != plan.after.what_a_victim_knows()):
        notify.add(custody[-1].event_id)
    latest_per_hearing = {e.hearing_id: e for e in ordered if e.is_hearing}
    notify.update(e.event_id for e in latest_per_hearing.values() if e.event_id in new_ids)
    return notify


# --- Rows -------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Rows:
    """The values a batch writes, by column attname. Ids of new subjects and their people, and which
    events notify, are filled in when they are known (under the write lock)."""

    new_subjects: list[SubjectRecord]
    # Changed columns of known subjects, grouped by which columns changed: each row is their values
    # followed by the subject's id. Writing only what changed spares the index updates of the rest.
    subject_changes: dict[tuple[str, ...], list[list[Any]]]
    # In arrival order, so that event ids follow it: each event's subject and its column values.
    events: list[tuple[SubjectRecord, dict[str, Any]]]


def rows(agency_id: int, plans: Mapping[str, SubjectPlan], received_at: datetime, written_at: datetime) -> Rows:
    """The rows of the accepted events and their subjects, stamped ``written_at``."""
    active = [plan for plan in plans.values() if plan.accepted]
    fresh: list[SubjectRecord] = []
    for plan in active:
        plan.subject.values["updated_at"] = written_at
        if plan.subject.stored is None:
            plan.subject.values["created_at"] = written_at
            fresh.append(plan.subject)
    changes = _subject_changes([plan.subject for plan in active if plan.subject.stored is not None])
    arrivals = sorted(((item.index, plan.subject, item) for plan in active for item in plan.accepted), key=_ARRIVAL)
    events = [(subject, _event_values(agency_id, subject, item, received_at)) for _, subject, item in arrivals]
    return Rows(fresh, changes, events)


def _subject_changes(subjects: list[SubjectRecord]) -> dict[tuple[str, ...], list[list[Any]]]:
    by_columns: dict[tuple[str, ...], list[list[Any]]] = defaultdict(list)
    for subject in subjects:
        assert subject.stored is not None
        stored = subject.stored
        changed = [(c, v) for c, v in subject.values.items() if v != stored[c]]
        by_columns[tuple(c for c, _ in changed)].append([*(v for _, v in changed), subject.values["id"]])
    return dict(by_columns)


def _event_values(agency_id: int, subject: SubjectRecord, item: Pending, received_at: datetime) -> dict[str, Any]:
    data = item.incoming.data
    return {
        "agency_id": agency_id, "event_id": data.event_id, "subject_id": subject.values["id"], "type": data.type,
        "occurred_at": data.occurred_at, "received_at": received_at, "facility_id": item.facility.id,
        "to_facility_id": item.to_facility.id if item.to_facility else None, "reason": data.reason or "",
        "scheduled_for": data.scheduled_for, "hearing_id": data.hearing_id or "", "court_name": data.court_name or "",
        "corrects_event_id": data.corrects_event_id or "", "source": item.incoming.source,
        "source_ref": item.incoming.source_ref, "payload_hash": item.incoming.payload_hash, "notified": False,
    }


# --- After writing subjects -------------------------------------------------------------------------


def people_to_ask(plans: Mapping[str, SubjectPlan]) -> set[int]:
    """People whose followers may hear of this batch. People first seen in it got their Person just now:
    nobody can follow them yet, so they are not asked about."""
    return {plan.subject.values["person_id"] for plan in plans.values()
            if plan.notifies and plan.subject.stored is not None}


def events_notifying(plans: Mapping[str, SubjectPlan], followed: set[int]) -> set[str]:
    """The new events that produce messages: those worth telling, of people someone follows."""
    notify: set[str] = set()
    for plan in plans.values():
        if plan.notifies and plan.subject.values["person_id"] in followed:
            notify |= plan.notifies
    return notify


def contacts_given(plans: Mapping[str, SubjectPlan]) -> dict[int, list[tuple[str, str]]]:
    """The (kind, value) contacts the accepted events carried, by subject id (known once written)."""
    given: dict[int, list[tuple[str, str]]] = {}
    for plan in plans.values():
        values = [(str(c.kind), c.value) for i in plan.accepted for c in i.incoming.data.subject.contacts or ()]
        if values and plan.subject.values["id"] is not None:
            given[plan.subject.values["id"]] = values
    return given
