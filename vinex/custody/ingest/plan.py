"""What a batch of custody events does, worked out from plain data: no database here.

Given the batch, the facilities of the agency, which event ids are already recorded, the stored
subjects and the histories of those whose stored state cannot simply be folded forward, the plan says
each item's outcome (accepted, pending, duplicate, rejected and why), each subject's new state, which
events are worth telling a victim about (never one a newer event supersedes) and the values of the rows
to write. ``store`` reads and writes those rows; ``service`` holds the locks.

An event that cannot follow the history before it is recorded and held (``pending``), not rejected: it
may only be early. Each subject's state is the replay of its history (``statemachine.replay``), so the
state does not depend on the order the events came in; the history is read only when a new event is
not newer than every stored one (or is a correction), and otherwise the stored state is folded forward.
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
    # Events the replay holds (early ones), by id, with the reason.
    held: dict[str, str] = field(default_factory=dict)
    # True when ``history`` is the subject's whole stored history, replayed from the start.
    whole: bool = False


# A new event's seq before its row has an id (events are ordered by occurred_at and event_id, not seq).
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
            plans[key] = SubjectPlan(subject, sm.INITIAL, [], stored, items, whole=True)
            assert subject.values["id"] is not None  # a subject with stored events has a row
            needs_history.append(subject.values["id"])
    return plans, needs_history


def _can_fold_forward(subject: SubjectRecord, items: list[Pending]) -> bool:
    """True when the stored state is a valid starting point: every new event is newer than every stored
    one (an event at the same instant may sort before it, by event id, so it takes the replay)."""
    last_event_at = subject.values["last_event_at"]
    if last_event_at is None:
        return True
    if any(i.facts.type == EventType.CORRECTION for i in items):
        return False
    return all(i.facts.occurred_at > last_event_at for i in items)


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
    """Attach the histories read, record or reject each event, and replay each subject's new state."""
    for plan in plans.values():
        history = histories.get(plan.subject.values["id"])
        if history is not None:
            plan.history = list(history)
    for plan in plans.values():
        if not plan.history and len(plan.accepted) == 1 and plan.accepted[0].facts.type != EventType.CORRECTION:
            _finish_one(plan, facilities, outcomes)
            continue
        stored = list(plan.history)
        _decide(plan, outcomes)
        if plan.accepted:
            replayed = sm.replay(plan.history, plan.base)
            plan.after, plan.held = replayed
            _hold(plan, outcomes)
            _apply_state(plan, facilities)
            plan.notifies = _events_to_notify(plan, stored)


def _finish_one(plan: SubjectPlan, facilities: Mapping[str, FacilityRef], outcomes: list[ItemOutcome]) -> None:
    """``plans_finish`` for the commonest plan, one new event (not a correction) on the stored state: what
    the replay and ``_events_to_notify`` decide for a history of one, without sorting it or building sets
    (a batch has a thousand of these)."""
    facts = plan.accepted[0].facts
    plan.history = [facts]
    error = sm.transition_error(plan.base, facts)
    if error is None:
        plan.after, plan.held = sm.apply(plan.base, facts), {}
    else:
        plan.after, plan.held = plan.base, {facts.event_id: error}
    _hold(plan, outcomes)
    values = plan.subject.values
    if values["last_event_at"] is None or facts.occurred_at >= values["last_event_at"]:
        values["last_event_at"] = facts.occurred_at
        values.update(plan.accepted[0].subject_fields)
    _store_state(plan, facilities)
    # A hearing's latest word always notifies; a custody event when it changes what a victim knows.
    if facts.is_hearing or (not plan.held and plan.before.what_a_victim_knows() != plan.after.what_a_victim_knows()):
        plan.notifies = {facts.event_id}


def _decide(plan: SubjectPlan, outcomes: list[ItemOutcome]) -> None:
    """Reject the corrections that name no event of this person; every other event joins the history.

    Whether an event fits where it lands is the replay's business: one that does not is held, not
    rejected, because the events between may not have reached us yet.
    """
    accepted: list[Pending] = []
    for item in plan.accepted:
        error = _correction_error(plan, item) if item.facts.type == EventType.CORRECTION else None
        if error:
            outcomes[item.index] = ItemOutcome(
                item.facts.event_id, "rejected", _reject(item.index, "type", error, "invalid_correction"))
            continue
        plan.history.append(item.facts)
        accepted.append(item)
    plan.accepted = accepted


def _correction_error(plan: SubjectPlan, item: Pending) -> str | None:
    custody = [e for e in plan.history if not e.is_hearing and e.type != EventType.CORRECTION]
    ids = {e.event_id for e in custody}
    if item.facts.corrects_event_id and item.facts.corrects_event_id not in ids:
        return f"CORRECTION names event {item.facts.corrects_event_id!r}, which this person's history lacks"
    if not custody:
        return "CORRECTION with no earlier event to correct"
    return None


def _hold(plan: SubjectPlan, outcomes: list[ItemOutcome]) -> None:
    """Report the new events the replay holds as pending, and count what the subject has waiting."""
    for item in plan.accepted:
        reason = plan.held.get(item.facts.event_id)
        if reason is not None:
            msg = f"held until the events that explain it arrive: {reason}"
            outcomes[item.index] = ItemOutcome(item.facts.event_id, "pending",
                                               _reject(item.index, "type", msg, "early_event"))
    values = plan.subject.values
    # Folded forward, the stored events keep their place in the replay (a left fold), so their count
    # stands; replayed from the whole history, the count is the replay's.
    waiting = 0 if plan.whole else values["pending_events"]
    values["pending_events"] = waiting + len(plan.held)


def _apply_state(plan: SubjectPlan, facilities: Mapping[str, FacilityRef]) -> None:
    """Store the derived state, and the descriptive fields of the newest event, on the subject."""
    values = plan.subject.values
    newest = max(plan.history, key=sm.ORDER_KEY)
    if values["last_event_at"] is None or newest.occurred_at >= values["last_event_at"]:
        values["last_event_at"] = newest.occurred_at
        newest_item = next((i for i in plan.accepted if i.facts.event_id == newest.event_id), None)
        if newest_item is not None:
            values.update(newest_item.subject_fields)
    _store_state(plan, facilities)


def _store_state(plan: SubjectPlan, facilities: Mapping[str, FacilityRef]) -> None:
    """The derived state's columns on the subject."""
    subject, after = plan.subject, plan.after
    values = subject.values
    values["status"] = after.status
    values["status_reason"] = after.reason
    facility = facilities.get(after.facility_code) if after.facility_code else None
    values["facility_id"], subject.facility_code = (facility.id, facility.code) if facility else (None, None)
    values["status_changed_at"] = after.status_changed_at
    values["scheduled_release_at"] = after.scheduled_release_at


def _events_to_notify(plan: SubjectPlan, stored: list[sm.EventFacts]) -> set[str]:
    """The events a registrant should hear about: the newest custody event, when it changes what a
    victim knows and is applied for the first time (new, or held until now and never told), and the
    latest word on each hearing; never one a newer event, applied or held, supersedes."""
    new_ids = {i.facts.event_id for i in plan.accepted}
    ordered = sm.order(plan.history)
    notify: set[str] = set()
    custody = [e for e in ordered if not e.is_hearing]
    if custody and plan.before.what_a_victim_knows() != plan.after.what_a_victim_knows():
        newest = custody[-1]
        if newest.event_id not in plan.held and (
                newest.event_id in new_ids or (not newest.notified and _was_held(newest, stored))):
            notify.add(newest.event_id)
    latest_per_hearing = {e.hearing_id: e for e in ordered if e.is_hearing}
    notify.update(e.event_id for e in latest_per_hearing.values() if e.event_id in new_ids)
    return notify


def _was_held(event: sm.EventFacts, stored: list[sm.EventFacts]) -> bool:
    """True when the replay of the history as stored (before this batch) held ``event``."""
    return event.event_id in sm.replay(stored).held


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


def notifying(plans: Mapping[str, SubjectPlan]) -> list[SubjectPlan]:
    """The plans with events worth telling (whoever follows their people, asked under the write lock)."""
    return [plan for plan in plans.values() if plan.notifies]


def people_to_ask(notifying: Iterable[SubjectPlan]) -> set[int]:
    """People whose followers may hear of this batch. People first seen in it got their Person just now:
    nobody can follow them yet, so they are not asked about."""
    return {plan.subject.values["person_id"] for plan in notifying if plan.subject.stored is not None}


def events_notifying(notifying: Iterable[SubjectPlan], followed: set[int]) -> set[str]:
    """The new events that produce messages: those worth telling, of people someone follows."""
    notify: set[str] = set()
    if not followed:
        return notify
    for plan in notifying:
        if plan.subject.values["person_id"] in followed:
            notify |= plan.notifies
    return notify


def contacts_carried(plans: Mapping[str, SubjectPlan]) -> list[tuple[SubjectRecord, list[tuple[str, str]]]]:
    """The (kind, value) contacts the accepted events carried, by subject (worked out before the write lock)."""
    carried = []
    for plan in plans.values():
        values: list[tuple[str, str]] = []
        for item in plan.accepted:
            contacts = item.incoming.data.subject.contacts
            if contacts:  # few events carry any: no list built per subject for the rest
                values.extend((str(c.kind), c.value) for c in contacts)
        if values:
            carried.append((plan.subject, values))
    return carried


def contacts_given(carried: Iterable[tuple[SubjectRecord, list[tuple[str, str]]]]) -> dict[int, list[tuple[str, str]]]:
    """``contacts_carried`` by subject id, once the subjects are written."""
    return {subject.values["id"]: values for subject, values in carried if subject.values["id"] is not None}
