"""Writes to custody: API keys and set-based event ingestion."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import secrets
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import attrgetter, itemgetter
from typing import Any, Literal, NamedTuple

import orjson
from django.db import connection, transaction
from django.utils import timezone

from vinex.audit.actor import current_actor
from vinex.audit.services import AuditEntries, AuditEntryIn, audit_record, audit_record_many
from vinex.core.bulk import ids_reserve, rows_insert, rows_prepare, rows_select, rows_update
from vinex.custody import statemachine as sm
from vinex.custody.models import (
    Agency,
    ApiKey,
    CustodyEvent,
    CustodyStatus,
    EventSource,
    EventType,
    Facility,
    Person,
    Subject,
    name_key,
)
from vinex.custody.schemas import EventIn

logger = logging.getLogger(__name__)

API_KEY_SCOPES = ("events:write", "rosters:write", "custody:read")
# Reading other agencies' custody data is granted only when asked for: a feed key never needs it.
DEFAULT_SCOPES = ("events:write", "rosters:write")
# Keeps every IN (...) list under SQLite's bound-parameter limit on any build.
IN_CHUNK = 900


# --- API keys --------------------------------------------------------------------------------------


def _hash_secret(secret: str) -> str:
    # API keys carry 256 bits of randomness, so a fast hash is as safe as a slow one and keeps each
    # request cheap; argon2 is for human-chosen passwords.
    return hashlib.sha256(secret.encode()).hexdigest()


def apikey_create(*, agency: Agency, name: str = "", scopes: Sequence[str] = DEFAULT_SCOPES) -> tuple[ApiKey, str]:
    """Create an API key and return it with the plaintext token, which is shown once and never stored."""
    unknown = set(scopes) - set(API_KEY_SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        key = ApiKey.objects.create(
            agency=agency, name=name, prefix=prefix, secret_hash=_hash_secret(secret), scopes=list(scopes)
        )
        actor, role = current_actor()
        audit_record(actor=actor, role=role, action="permission_change", object_type="apikey", object_id=prefix,
                     purpose=f"new key for agency {agency.code}")
    return key, f"vx_{prefix}_{secret}"


def apikey_authenticate(*, token: str) -> ApiKey | None:
    """The active key matching ``token``, or None."""
    try:
        marker, prefix, secret = token.split("_", 2)
    except ValueError:
        return None
    if marker != "vx":
        return None
    key = ApiKey.objects.select_related("agency").filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None or not secrets.compare_digest(key.secret_hash, _hash_secret(secret)):
        audit_record(actor="public", role="public", action="login_failed", object_type="apikey",
                     object_id=prefix[:16], outcome="denied")
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


# --- Event ingestion -------------------------------------------------------------------------------

Status = Literal["accepted", "duplicate", "rejected"]


class IncomingEvent(NamedTuple):
    """A validated event and where it came from (a tuple: batches build thousands)."""

    data: EventIn
    payload_hash: str
    source: str = EventSource.API
    source_ref: str = ""


@dataclass(slots=True)
class ItemOutcome:
    event_id: str | None
    status: Status
    errors: list[dict[str, Any]] = field(default_factory=list)


_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def payload_hash(raw: Any) -> str:
    """SHA-256 of the payload as canonical JSON (sorted keys, no spaces, UTF-8)."""
    try:
        canonical = orjson.dumps(raw, default=str, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # what orjson will not encode (a lone surrogate, a huge integer)
        canonical = _CANONICAL_JSON.encode(raw).encode("utf-8", "surrogatepass")
    return hashlib.sha256(canonical).hexdigest()


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def _reject(index: int, loc: str, msg: str, kind: str) -> list[dict[str, Any]]:
    return [{"loc": ["events", index, loc], "msg": msg, "type": kind}]


@dataclass(slots=True)
class _Pending:
    """An event that passed the per-item checks and waits for its subject's history."""

    index: int
    incoming: IncomingEvent
    facts: sm.EventFacts
    facility: Facility
    to_facility: Facility | None
    subject_fields: dict[str, Any]


@dataclass(slots=True)
class _SubjectPlan:
    subject: _SubjectRecord
    base: sm.CustodyState
    history: list[sm.EventFacts]
    # What registrants were last told about, to tell whether the new events change it.
    before: sm.CustodyState
    accepted: list[_Pending] = field(default_factory=list)
    after: sm.CustodyState = sm.INITIAL


def event_ingest(*, agency: Agency, events: Sequence[IncomingEvent], received_at: datetime | None = None) -> list[
    ItemOutcome
]:
    """Record a batch of an agency's events, derive each subject's status and queue notifications.

    All in one transaction and a handful of queries. Each item gets its own outcome: a duplicate
    ``event_id`` is a no-op, an item naming an unknown facility or an impossible transition is
    rejected alone, and the rest are accepted. Only an event that is the newest in its subject's
    history and changes what a victim knows produces notifications.
    """
    received_at = received_at or timezone.now()
    outcomes: list[ItemOutcome] = [ItemOutcome(e.data.event_id, "accepted") for e in events]
    facilities = {f.code: f for f in Facility.objects.filter(agency=agency)}
    # The batch is worked out before taking the write lock, which other batches wait for; under the
    # lock it is only checked against the stored state, and worked out again if that changed meanwhile.
    candidates = _screen(agency, facilities, events, outcomes)
    final = _write_lock_held()
    draft = _draft(agency, facilities, candidates, outcomes, received_at)
    with _sqlite_writer_turn(), transaction.atomic():
        _agency_lock(agency)
        if not final and not _draft_holds(agency, draft):
            logger.info("custody events changed while a batch was worked out; working it out again",
                        extra={"agency": agency.code, "events": len(events)})
            draft = _draft(agency, facilities, candidates, outcomes, received_at)
        to_notify = _persist(agency, draft)
        from vinex.notify.services import notification_enqueue_for_events

        notification_enqueue_for_events(events=to_notify)
        # Last in the transaction: the audit head stays locked until commit.
        audit_record_many(entries=draft.audit)
    return draft.outcomes


def _write_lock_held() -> bool:
    """True inside an outer SQLite transaction (a roster import): begun IMMEDIATE, it holds the database's
    write lock, so nothing a draft reads can change before it is written."""
    immediate = connection.settings_dict.get("OPTIONS", {}).get("transaction_mode") == "IMMEDIATE"
    return connection.vendor == "sqlite" and immediate and connection.in_atomic_block


@dataclass(slots=True)
class _Writes:
    """The rows a draft will write, already as the driver takes them. Under the write lock only the ids of
    new people and subjects, and which events notify, are left to fill in."""

    written_at: datetime
    new_subjects: list[_SubjectRecord]
    # In the order of ``new_subjects``; their ``id`` and ``person_id`` are filled in under the lock.
    new_subject_rows: list[list[Any]]
    # Rows of each set of changed columns (the values, then the subject's id).
    subject_updates: dict[tuple[str, ...], list[list[Any]]]
    # In arrival order: each event's subject (new ones have no id yet), event id and row.
    events: list[tuple[_SubjectRecord, str, list[Any]]]


@dataclass
class _Draft:
    """A batch worked out from the stored state as it was read."""

    outcomes: list[ItemOutcome]
    plans: dict[str, _SubjectPlan]
    audit: AuditEntries
    writes: _Writes


def _draft(agency: Agency, facilities: dict[str, Facility], candidates: list[_Pending],
           screened: list[ItemOutcome], received_at: datetime) -> _Draft:
    """Duplicates, each subject's history and new state, the outcome of every item and the rows to write."""
    outcomes = list(screened)
    pending = _drop_known(agency, candidates, outcomes)
    plans = _plan_subjects(agency, facilities, pending)
    _decide(plans, outcomes)
    for plan in plans.values():
        if plan.accepted:
            plan.after = sm.derive(plan.history, plan.base)
            _apply_state(plan, facilities)
    audit = AuditEntries.for_objects(
        AuditEntryIn(f"agency:{agency.code}", "agency", "create", "custody_event", ""),
        [f"{agency.code}:{o.event_id}" for o in outcomes if o.status == "accepted"],
    )
    return _Draft(outcomes, plans, audit, _writes_prepare(agency, plans, received_at))


def _draft_holds(agency: Agency, draft: _Draft) -> bool:
    """True when what the draft read is still what is stored: none of its new events has been recorded
    since, and each of its subjects is as read (ingestion rewrites a subject's row, at least its
    ``updated_at``, whenever it records an event of theirs, so a changed history shows there too)."""
    new_ids = [o.event_id for o in draft.outcomes if o.status == "accepted" and o.event_id is not None]
    if _event_ids_known(agency, new_ids):
        return False
    rows = _subject_rows(agency, list(draft.plans))
    as_read = {key: plan.subject.row for key, plan in draft.plans.items() if plan.subject.row is not None}
    return {row[1]: row for row in rows} == as_read


# New events sort after every stored one that shares their occurred_at, as their ids will.
_PROVISIONAL_SEQ = 1 << 62


_INGEST_LOCK_SPACE = 7301  # PostgreSQL advisory-lock namespace of event ingestion


def _agency_lock(agency: Agency) -> None:
    """One ingest at a time per agency, until commit.

    Two batches carrying the same event (an agency re-sending a request that timed out) or the same
    person must not both pass the duplicate check or both fold from the same stored state. SQLite's
    IMMEDIATE transactions already serialise writers; PostgreSQL needs the lock said out loud.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_INGEST_LOCK_SPACE, agency.pk])


@contextmanager
def _sqlite_writer_turn() -> Iterator[None]:
    """On SQLite, queue for the write lock in the kernel rather than in SQLite's busy handler.

    The busy handler polls with sleeps growing to 100 ms, so a batch waiting behind another sits idle
    long after the lock is free; an exclusive flock on a file beside the database wakes the next
    ingest, in any thread or process, as soon as the previous one commits. Skipped inside an outer
    transaction, which may already hold the database's lock.
    """
    name = str(connection.settings_dict["NAME"])
    in_memory = name == ":memory:" or "mode=memory" in name
    if connection.vendor != "sqlite" or connection.in_atomic_block or in_memory:
        yield
        return
    with open(f"{name}.ingest-lock", "a") as turn:
        fcntl.flock(turn, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(turn, fcntl.LOCK_UN)


def _screen(agency: Agency, facilities: dict[str, Facility], events: Sequence[IncomingEvent],
            outcomes: list[ItemOutcome]) -> list[_Pending]:
    """Per-item checks that need no stored state: facilities, and copies of one event within the batch."""
    seen: set[str] = set()
    pending: list[_Pending] = []
    for index, incoming in enumerate(events):
        data = incoming.data
        if data.event_id in seen:
            outcomes[index].status = "duplicate"
            continue
        facility = facilities.get(data.facility_code)
        to_facility = facilities.get(data.to_facility_code) if data.to_facility_code else None
        if facility is None:
            outcomes[index] = ItemOutcome(
                data.event_id,
                "rejected",
                _reject(index, "facility_code", f"agency {agency.code} has no facility {data.facility_code!r}",
                        "unknown_facility"),
            )
            continue
        if data.to_facility_code and to_facility is None:
            outcomes[index] = ItemOutcome(
                data.event_id,
                "rejected",
                _reject(index, "to_facility_code", f"agency {agency.code} has no facility {data.to_facility_code!r}",
                        "unknown_facility"),
            )
            continue
        seen.add(data.event_id)
        facts = sm.EventFacts(
            data.event_id, data.type, data.occurred_at, _PROVISIONAL_SEQ + index, data.facility_code,
            data.to_facility_code, data.reason or "", data.scheduled_for, data.corrects_event_id or "",
            data.hearing_id or "",
        )
        pending.append(_Pending(index, incoming, facts, facility, to_facility, _subject_fields(data)))
    return pending


def _drop_known(agency: Agency, candidates: list[_Pending], outcomes: list[ItemOutcome]) -> list[_Pending]:
    """Mark events already recorded as duplicates (``_draft_holds`` looks again under the write lock)."""
    known = _event_ids_known(agency, [item.facts.event_id for item in candidates])
    if not known:
        return candidates
    for item in candidates:
        if item.facts.event_id in known:
            outcomes[item.index] = ItemOutcome(item.facts.event_id, "duplicate")
    return [item for item in candidates if item.facts.event_id not in known]


def _event_ids_known(agency: Agency, event_ids: Sequence[str]) -> set[str]:
    """Which of these ids the agency's recorded events already carry."""
    rows = rows_select(CustodyEvent, ("event_id",), among=("event_id", event_ids), where=[("agency_id", agency.pk)])
    return {row[0] for row in rows}


def _plan_subjects(agency: Agency, facilities: dict[str, Facility], pending: list[_Pending]) -> dict[
    str, _SubjectPlan
]:
    by_subject: dict[str, list[_Pending]] = defaultdict(list)
    for item in pending:
        by_subject[item.incoming.data.subject.agency_subject_id].append(item)
    subjects = _subjects_load(agency, facilities, {k: v[0] for k, v in by_subject.items()})
    plans: dict[str, _SubjectPlan] = {}
    needs_history: list[int] = []
    for key, items in by_subject.items():
        subject = subjects[key]
        stored = _stored_state(subject)
        if _can_fold_forward(subject, items):
            plans[key] = _SubjectPlan(subject, stored, [], stored)
        else:
            plans[key] = _SubjectPlan(subject, sm.INITIAL, [], stored)
            assert subject.pk is not None  # a subject with stored events has a row
            needs_history.append(subject.pk)
    histories = _histories(needs_history)
    for plan in plans.values():
        if plan.subject.pk in histories:
            plan.history = histories[plan.subject.pk]
    for key, items in by_subject.items():
        plans[key].accepted = items
    return plans


def _can_fold_forward(subject: _SubjectRecord, items: list[_Pending]) -> bool:
    """True when the stored state is a valid starting point: every new event is newer than it."""
    if subject.last_event_at is None:
        return True
    if any(i.facts.type == EventType.CORRECTION for i in items):
        return False
    return all(i.facts.occurred_at >= subject.last_event_at for i in items)


def _stored_state(subject: _SubjectRecord) -> sm.CustodyState:
    if subject.stored is None:
        return sm.INITIAL
    return sm.CustodyState(
        status=_STATUS[subject.status],
        reason=subject.status_reason,
        facility_code=subject.facility_code,
        status_changed_at=subject.status_changed_at,
        scheduled_release_at=subject.scheduled_release_at,
    )


_STATUS = {str(status): status for status in CustodyStatus}  # a dict lookup costs a tenth of CustodyStatus(value)


@dataclass
class _SubjectRecord:
    """A subject as ingestion needs it: a plain record rather than a model instance, because building
    thousands of instances (and their facilities) costs more than reading and writing the rows."""

    agency_subject_id: str
    agency_id: int
    first_name: str = ""
    last_name: str = ""
    name_key: str = ""
    date_of_birth: date | None = None
    country_of_birth: str = ""
    a_number: str = ""
    fbi_number: str = ""
    state_id: str = ""
    booking_number: str = ""
    protected: bool = False
    status: str = CustodyStatus.UNKNOWN
    status_reason: str = ""
    facility_id: int | None = None
    facility_code: str | None = None
    status_changed_at: datetime | None = None
    scheduled_release_at: datetime | None = None
    last_event_at: datetime | None = None
    person_id: int | None = None
    pk: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # The state fields as stored, for a subject that has a row: only columns that change are written.
    stored: dict[str, Any] | None = None
    # The row as read (``_SUBJECT_COLUMNS``), to tell whether it changed since.
    row: tuple[Any, ...] | None = None


def _subjects_load(agency: Agency, facilities: dict[str, Facility], first_seen: dict[str, _Pending]) -> dict[
    str, _SubjectRecord
]:
    """The agency's subjects with these ids; unknown ones as new records, written by _persist."""
    rows = _subject_rows(agency, list(first_seen))
    codes = _facility_codes(facilities, {row[_FACILITY_COLUMN] for row in rows})
    # .id rather than .pk: a model's pk is a property, looked up anew on every use in these loops.
    agency_id = agency.id
    found: dict[str, _SubjectRecord] = {}
    for row in rows:
        stored = dict(zip(_SUBJECT_STATE_FIELDS, row[3:], strict=True))
        found[row[1]] = _SubjectRecord(agency_subject_id=row[1], agency_id=agency_id, pk=row[0], person_id=row[2],
                                       facility_code=codes.get(stored["facility_id"]), stored=stored, row=row,
                                       **stored)
    for key, item in first_seen.items():
        if key not in found:
            found[key] = _SubjectRecord(agency_subject_id=key, agency_id=agency_id, **item.subject_fields)
    return found


def _subject_rows(agency: Agency, keys: list[str]) -> list[tuple[Any, ...]]:
    """The agency's stored subjects with these ids, as ``_SUBJECT_COLUMNS`` rows."""
    return rows_select(Subject, _SUBJECT_COLUMNS, among=("agency_subject_id", keys), where=[("agency_id", agency.pk)])


def _facility_codes(facilities: dict[str, Facility], ids: set[int | None]) -> dict[int | None, str]:
    """Code of each facility id; a subject may still be held at a facility of another agency."""
    codes: dict[int | None, str] = {f.pk: f.code for f in facilities.values()}
    missing = [i for i in ids if i is not None and i not in codes]
    if missing:
        codes.update(Facility.objects.filter(pk__in=missing).values_list("pk", "code"))
    return codes


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


_IDENTIFIER_FIELDS = ("a_number", "fbi_number", "state_id", "booking_number")


def _histories(subject_ids: list[int]) -> dict[int, list[sm.EventFacts]]:
    histories: dict[int, list[sm.EventFacts]] = defaultdict(list)
    columns = ("subject_id", "event_id", "type", "occurred_at", "id", "facility__code", "to_facility__code",
               "reason", "scheduled_for", "corrects_event_id", "hearing_id")
    for chunk in _chunks(subject_ids):
        for row in CustodyEvent.objects.filter(subject_id__in=chunk).values_list(*columns):
            histories[row[0]].append(
                sm.EventFacts(
                    event_id=row[1], type=row[2], occurred_at=row[3], seq=row[4], facility_code=row[5],
                    to_facility_code=row[6], reason=row[7], scheduled_for=row[8], corrects_event_id=row[9],
                    hearing_id=row[10],
                )
            )
    return histories


def _newest_key(plan: _SubjectPlan) -> tuple[datetime, int] | None:
    keys = [e.order_key for e in plan.history]
    if plan.subject.last_event_at is not None:
        # Stored events sort before new ones at the same instant (arrival order), hence seq 0.
        keys.append((plan.subject.last_event_at, 0))
    return max(keys) if keys else None


def _decide(plans: dict[str, _SubjectPlan], outcomes: list[ItemOutcome]) -> None:
    """Accept or reject each subject's events in arrival order.

    An event that lands at the end of the history must be a possible next step from the current
    state; one that lands in the middle (late) is accepted as recorded history, because the events
    between may not have reached us.
    """
    for plan in plans.values():
        accepted: list[_Pending] = []
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


def _check(plan: _SubjectPlan, item: _Pending) -> str | None:
    if item.facts.type == EventType.CORRECTION:
        custody = [e for e in plan.history if not e.is_hearing and e.type != EventType.CORRECTION]
        ids = {e.event_id for e in custody}
        if item.facts.corrects_event_id and item.facts.corrects_event_id not in ids:
            return f"CORRECTION names event {item.facts.corrects_event_id!r}, which this person's history lacks"
        if not custody:
            return "CORRECTION with no earlier event to correct"
        return None
    return sm.transition_error(sm.derive(plan.history, plan.base), item.facts)


def _persist(agency: Agency, draft: _Draft) -> list[CustodyEvent]:
    """Write subjects and events; return the new events that must notify, ready for rendering."""
    active = [plan for plan in draft.plans.values() if plan.accepted]
    _subjects_write(draft.writes)
    _subject_contacts_write(active)
    from vinex.notify.selectors import person_ids_followed

    # People first seen in this batch got their Person just now: nobody can follow them yet.
    followed = person_ids_followed(person_ids={plan.subject.person_id for plan in active if plan.subject.stored})
    notify: set[str] = set()
    for plan in active:
        if plan.subject.person_id in followed:
            notify |= _events_to_notify(plan, plan.before, plan.after)
    for subject, event_id, row in draft.writes.events:
        row[_EVENT_SUBJECT] = subject.pk
        row[_EVENT_NOTIFIED] = event_id in notify
    rows_insert(CustodyEvent, _EVENT_COLUMNS, [row for _, _, row in draft.writes.events], prepared=True)
    return _events_for_messages(agency, sorted(notify))


def _writes_prepare(agency: Agency, plans: dict[str, _SubjectPlan], received_at: datetime) -> _Writes:
    """The rows of the accepted events and their subjects, stamped with the time they are worked out."""
    written_at = timezone.now()
    active = [plan for plan in plans.values() if plan.accepted]
    fresh: list[_SubjectRecord] = []
    for plan in active:
        plan.subject.updated_at = written_at
        if plan.subject.stored is None:
            plan.subject.created_at = written_at
            fresh.append(plan.subject)
    new_rows = rows_prepare(Subject, _SUBJECT_INSERT_COLUMNS, [_new_subject_row(s) for s in fresh])
    updates = _subject_updates([plan.subject for plan in active if plan.subject.stored is not None])
    arrivals = sorted(((item.index, plan.subject, item) for plan in active for item in plan.accepted),
                      key=_ARRIVAL)  # inserted in arrival order, so ids follow it
    rows = rows_prepare(CustodyEvent, _EVENT_COLUMNS,
                        [_event_row(agency, subject, item, received_at) for _, subject, item in arrivals])
    events = [(subject, item.facts.event_id, row) for (_, subject, item), row in zip(arrivals, rows, strict=True)]
    return _Writes(written_at, fresh, new_rows, updates, events)


def _subject_contacts_write(active: list[_SubjectPlan]) -> None:
    """Hand the contacts agencies sent for their people to the privacy check (it keeps only blind indexes)."""
    given: dict[int, list[tuple[str, str]]] = {}
    for plan in active:
        values = [(str(c.kind), c.value) for i in plan.accepted for c in i.incoming.data.subject.contacts or ()]
        if values and plan.subject.pk is not None:
            given[plan.subject.pk] = values
    if given:
        from vinex.privacy.subject_contacts import subject_contacts_record

        subject_contacts_record(contacts_by_subject=given)


def _events_to_notify(plan: _SubjectPlan, before: sm.CustodyState, after: sm.CustodyState) -> set[str]:
    """The new events a registrant should hear about: never one a newer event supersedes."""
    new_ids = {i.facts.event_id for i in plan.accepted}
    ordered = sm.order(plan.history)
    notify: set[str] = set()
    custody = [e for e in ordered if not e.is_hearing]
    if custody and custody[-1].event_id in new_ids and before.what_a_victim_knows() != after.what_a_victim_knows():
        notify.add(custody[-1].event_id)
    latest_per_hearing = {e.hearing_id: e for e in ordered if e.is_hearing}
    notify.update(e.event_id for e in latest_per_hearing.values() if e.event_id in new_ids)
    return notify


_EVENT_COLUMNS = (
    "agency_id", "event_id", "subject_id", "type", "occurred_at", "received_at", "facility_id", "to_facility_id",
    "reason", "scheduled_for", "hearing_id", "court_name", "corrects_event_id", "source", "source_ref",
    "payload_hash", "notified",
)


_EVENT_SUBJECT = _EVENT_COLUMNS.index("subject_id")
_EVENT_NOTIFIED = _EVENT_COLUMNS.index("notified")
_ARRIVAL = itemgetter(0)


def _event_row(agency: Agency, subject: _SubjectRecord, item: _Pending, received_at: datetime) -> tuple[Any, ...]:
    """The item's values in the order of ``_EVENT_COLUMNS``; a new subject's id and whether the event
    notifies are filled in under the write lock."""
    data = item.incoming.data
    return (
        agency.id, data.event_id, subject.pk, data.type, data.occurred_at, received_at, item.facility.id,
        item.to_facility.id if item.to_facility else None, data.reason or "", data.scheduled_for,
        data.hearing_id or "", data.court_name or "", data.corrects_event_id or "", item.incoming.source,
        item.incoming.source_ref, item.incoming.payload_hash, False,
    )


def _events_for_messages(agency: Agency, event_ids: list[str]) -> list[CustodyEvent]:
    events: list[CustodyEvent] = []
    related = ("subject__agency", "subject__facility", "facility", "to_facility")
    for chunk in _chunks(event_ids):
        events.extend(CustodyEvent.objects.filter(agency=agency, event_id__in=chunk).select_related(*related))
    return events


def _apply_state(plan: _SubjectPlan, facilities: dict[str, Facility]) -> None:
    """Store the derived state, and the descriptive fields of the newest event, on the subject."""
    subject, after = plan.subject, plan.after
    newest = max(plan.history, key=sm.ORDER_KEY)
    if subject.last_event_at is None or newest.occurred_at >= subject.last_event_at:
        subject.last_event_at = newest.occurred_at
        newest_item = next((i for i in plan.accepted if i.facts.event_id == newest.event_id), None)
        if newest_item is not None:
            vars(subject).update(newest_item.subject_fields)  # names of _SubjectRecord fields only
    subject.status = after.status
    subject.status_reason = after.reason
    facility = facilities.get(after.facility_code) if after.facility_code else None
    subject.facility_id, subject.facility_code = (facility.id, facility.code) if facility else (None, None)
    subject.status_changed_at = after.status_changed_at
    subject.scheduled_release_at = after.scheduled_release_at


_SUBJECT_STATE_FIELDS = (
    "status", "status_reason", "facility_id", "status_changed_at", "scheduled_release_at", "last_event_at",
    "first_name", "last_name", "name_key", "date_of_birth", "country_of_birth", "a_number", "fbi_number",
    "state_id", "booking_number", "updated_at",
)
_SUBJECT_NEW_FIELDS = (
    "agency_id", "agency_subject_id", "person_id", "protected", "created_at", *_SUBJECT_STATE_FIELDS
)
_SUBJECT_COLUMNS = ("id", "agency_subject_id", "person_id", *_SUBJECT_STATE_FIELDS)
_FACILITY_COLUMN = _SUBJECT_COLUMNS.index("facility_id")
_SUBJECT_INSERT_COLUMNS = ("id", *_SUBJECT_NEW_FIELDS)
_SUBJECT_INSERT_PERSON = _SUBJECT_INSERT_COLUMNS.index("person_id")
_new_subject_row = attrgetter(*("pk" if c == "id" else c for c in _SUBJECT_INSERT_COLUMNS))
_subject_state = attrgetter(*_SUBJECT_STATE_FIELDS)


def _subjects_write(writes: _Writes) -> None:
    """Insert new subjects, each with a new Person, and update known ones."""
    fresh = writes.new_subjects
    person_ids = ids_reserve(Person, len(fresh))
    rows_insert(Person, ("id", "created_at"), [(pk, writes.written_at) for pk in person_ids])
    subject_ids = ids_reserve(Subject, len(fresh))
    for new, row, person_id, subject_id in zip(fresh, writes.new_subject_rows, person_ids, subject_ids, strict=True):
        new.person_id, new.pk = person_id, subject_id
        row[0], row[_SUBJECT_INSERT_PERSON] = subject_id, person_id
    rows_insert(Subject, _SUBJECT_INSERT_COLUMNS, writes.new_subject_rows, prepared=True)
    for columns, rows in writes.subject_updates.items():
        rows_update(Subject, columns, rows, prepared=True)


def _subject_updates(subjects: list[_SubjectRecord]) -> dict[tuple[str, ...], list[list[Any]]]:
    """Rows updating only the columns that changed, grouped by those columns: on a large table every
    indexed column written costs an index update even when its value stays the same."""
    by_columns: dict[tuple[str, ...], list[list[Any]]] = defaultdict(list)
    for subject in subjects:
        assert subject.stored is not None
        values = _subject_state(subject)
        changed = [(f, v) for f, v in zip(_SUBJECT_STATE_FIELDS, values, strict=True) if v != subject.stored[f]]
        by_columns[tuple(f for f, _ in changed)].append([*(v for _, v in changed), subject.pk])
    return {columns: rows_prepare(Subject, [*columns, "id"], rows) for columns, rows in by_columns.items()}
