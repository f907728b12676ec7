"""Record a batch of an agency's custody events: the plan worked out, the locks held, the rows written."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError, IntegrityError, connection
from django.utils import timezone

from vinex.audit.chain import AuditEntries, AuditEntryIn
from vinex.audit.unit import Actor, audit_unit
from vinex.core.database import database_tick, write_turn
from vinex.custody.ingest import plan, store
from vinex.custody.ingest.incoming import RECORDED, IncomingEvent, ItemOutcome
from vinex.custody.models import Agency, CustodyEvent, EventType, Facility

logger = logging.getLogger(__name__)


class FacilitiesChanged(Exception):
    """A facility ``event_ingest`` remembered is gone: nothing of the batch was written, and the agency will be
    read again, so the same call (with fresh callbacks: theirs saw a transaction that was rolled back) works."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a batch wrote that others act on, handed over before its transaction commits."""

    # The new events that produce messages (the newest word on people someone follows), ready to render.
    events_to_notify: list[CustodyEvent]
    # Phone numbers and email addresses the agency sent, as (kind, value) by subject id.
    contacts_by_subject: dict[int, list[tuple[str, str]]]


def nobody_follows(person_ids: set[int]) -> set[int]:
    return set()


def nobody_links(subject_ids: list[int]) -> dict[int, int]:
    return {}


# Batches of more events than this are worked out before the write lock is taken (see event_ingest).
_DRAFT_AHEAD_FROM = 16

_SUBJECT_KEY = store.SUBJECT_COLUMNS.index("agency_subject_id")

# A subject whose row changes in one of these may now be recognisable as someone another agency holds.
_IDENTITY_FIELDS = ("first_name", "last_name", "date_of_birth", "country_of_birth", "a_number", "fbi_number",
                    "state_id")


def event_ingest(
    *,
    agency: Agency,
    events: Sequence[IncomingEvent],
    actor: Actor,
    received_at: datetime | None = None,
    followed: Callable[[set[int]], set[int]] = nobody_follows,
    recorded: Callable[[Recorded], None] | None = None,
    link: Callable[[list[int]], dict[int, int]] = nobody_links,
) -> list[ItemOutcome]:
    """Record a batch of an agency's events and derive each subject's status, in one transaction.

    Each item gets its own outcome: a duplicate ``event_id`` is a no-op, an item naming an unknown
    facility or an impossible transition is rejected alone, and the rest are accepted. ``followed`` says
    which of the given people someone follows; an accepted event is marked as notifying when it is the
    newest in its subject's history, changes what a victim knows and its person is followed.
    ``recorded`` runs inside the transaction, after the writes and before the audit entries, with what
    was written (``vinex.pipeline`` queues the messages there). ``link`` gets the ids of the subjects that
    are new or whose identity changed, after they are written and before anyone is asked who follows whom,
    and returns the person each subject it merged into another now belongs to. The transaction is
    ``actor``'s audit unit; each new event is recorded as created by ``agency:<code>``, whoever delivered it.
    """
    received_at = received_at or timezone.now()
    named = {code for e in events for code in (e.data.facility_code, e.data.to_facility_code) if code}
    agency, facilities, remembered = store.agency_and_facilities(agency.id, named)
    try:
        return _record(agency, facilities, events, actor, received_at, followed, recorded, link)
    except IntegrityError as error:
        # A facility this process remembered was deleted meanwhile (only one no event names can be).
        if not remembered or connection.in_atomic_block:
            raise
        store.agency_forget(agency.id)
        raise FacilitiesChanged(f"a facility of agency {agency.code} was deleted while remembered") from error


def _record(agency: Agency, facilities: dict[str, Facility], events: Sequence[IncomingEvent], actor: Actor,
            received_at: datetime, followed: Callable[[set[int]], set[int]],
            recorded: Callable[[Recorded], None] | None,
            link: Callable[[list[int]], dict[int, int]]) -> list[ItemOutcome]:
    screened = [ItemOutcome(e.data.event_id, "accepted") for e in events]
    candidates = plan.screen(agency.code, facilities, events, screened)
    # A large batch is worked out before taking the write lock, which other batches wait for; under the
    # lock it is only checked against the stored state, and worked out again if that changed meanwhile.
    # A small one (an agency pushing events one at a time) is worked out under the lock: checking a draft
    # costs the same reads as making it. Either way holds whether or not the caller has a transaction open.
    ahead = len(events) > _DRAFT_AHEAD_FROM
    draft = _draft(agency, facilities, candidates, screened, received_at, ahead=True) if ahead else None
    subject_keys = [c.incoming.data.subject.agency_subject_id for c in candidates]
    event_ids = [c.facts.event_id for c in candidates]
    with write_turn(), audit_unit(actor=actor) as unit:
        store.ingest_lock(agency.id, subject_keys=subject_keys, event_ids=event_ids)
        if draft is None:
            draft = _draft(agency, facilities, candidates, screened, received_at)
        elif not _draft_unchanged(draft) and not _draft_holds(agency, draft):
            logger.info("custody events changed while a batch was worked out; working it out again",
                        extra={"agency": agency.code, "events": len(events)})
            draft = _draft(agency, facilities, candidates, screened, received_at)
        store.subjects_write(draft.prepared, draft.written_at)
        asked = _link(draft, link) | plan.people_to_ask(draft.notifying)
        notify = plan.events_notifying(draft.notifying, followed(asked))
        store.events_write(draft.prepared, notify)
        if recorded is not None:
            to_notify = _events_to_notify(agency, facilities, draft.prepared, notify)
            if any(e.type == EventType.RELEASED for e in to_notify):
                store.release_guard_lock(agency.id)  # the guard counts the agency's releases: one batch at a time
            recorded(Recorded(to_notify, plan.contacts_given(draft.contacts)))
        # The unit writes these (after whatever ``recorded`` added) as the last step of the transaction.
        unit.add_entries(draft.audit)
    if ahead:
        _log_copy.written(len(events))
    return draft.outcomes


class _LogCopy:
    """Copies SQLite's write-ahead log back into the database after this process has recorded
    ``every`` events in large batches, once its write turn is over.

    Left to SQLite, the copy happens past 256 MiB of log (see settings) inside the commit of whichever
    batch crosses it, while that batch still holds the write turn: every other batch and the sender
    waited the better part of a second, and each round of a steady stream of batches ran slower than the
    one before (a longer log is also slower to read, and a batch of 1,000 new people adds about 7 MiB).
    The periodic job copies it every 30 s, too seldom for thousands of events a second. Copied here, the
    copy (PASSIVE: it blocks neither readers nor writers) runs while another batch writes.
    """

    def __init__(self, every: int) -> None:
        self.every = every
        self._since = 0
        self._lock = threading.Lock()

    def written(self, events: int) -> None:
        # Inside an outer transaction the copy would wait for it, or stop at what it still reads.
        if connection.vendor != "sqlite" or connection.in_atomic_block:
            return
        with self._lock:
            self._since += events
            if self._since < self.every:
                return
            self._since = 0
        try:
            database_tick(now=timezone.now())
        except DatabaseError:  # the batch is recorded whatever became of the copy: the periodic job copies it
            logger.exception("copying the write-ahead log back after a batch failed")


# About 30 MiB of log per process: a few hash tables of index for readers to search, a copy of a few
# hundred milliseconds.
_log_copy = _LogCopy(every=4_000)


def _events_to_notify(agency: Agency, facilities: dict[str, Facility], prepared: store.Prepared,
                      notify: set[str]) -> list[CustodyEvent]:
    """The batch's own events as written; stored ones this batch explained (held early) read back."""
    if not notify:
        return []
    events = store.events_built(agency, facilities, prepared, notify)
    stored = notify.difference(e.event_id for e in events)
    return [*store.events_load(agency.id, list(stored)), *events] if stored else events


def _link(draft: _Draft, link: Callable[[list[int]], dict[int, int]]) -> set[int]:
    """Let ``link`` match the new and changed subjects; returns the people of the subjects it merged into
    someone known (followers of those may hear of this batch, though the subject is new)."""
    moved = link([s.values["id"] for s in draft.identity_changed]) if draft.identity_changed else {}
    people: set[int] = set()
    if not moved:
        return people
    for batch_plan in draft.plans.values():
        person = moved.get(batch_plan.subject.values["id"])
        if person is not None:
            batch_plan.subject.values["person_id"] = person
            if batch_plan.notifies:
                people.add(person)
    return people


def _identity_changed(subject: plan.SubjectRecord) -> bool:
    if subject.stored is None:
        return True
    return any(subject.values[f] != subject.stored[f] for f in _IDENTITY_FIELDS)


@dataclass
class _Draft:
    """A batch worked out from the stored state as it was read."""

    outcomes: list[ItemOutcome]
    plans: dict[str, plan.SubjectPlan]
    audit: AuditEntries
    written_at: datetime
    prepared: store.Prepared
    # Worked out here rather than under the write lock (they do not change there, but for the ids written):
    # the subjects whose identity is new or changed (for ``link``), the plans with events worth telling,
    # the contacts the events carried, and each stored subject's row as read (to check the draft holds).
    identity_changed: list[plan.SubjectRecord]
    notifying: list[plan.SubjectPlan]
    contacts: list[tuple[plan.SubjectRecord, list[tuple[str, str]]]]
    as_read: dict[str, tuple[Any, ...]]
    # ``store.commits_seen`` before the reads.
    commits: int | None


def _draft(agency: Agency, facilities: dict[str, Facility], candidates: list[plan.Pending],
           screened: list[ItemOutcome], received_at: datetime, *, ahead: bool = False) -> _Draft:
    """Duplicates, each subject's history and new state, the outcome of every item and the rows to write."""
    outcomes = list(screened)
    commits = store.commits_seen() if ahead else None  # before the reads; under the lock nothing can change
    keys = list(dict.fromkeys(item.incoming.data.subject.agency_subject_id for item in candidates))
    known, read = store.events_known_and_subjects(agency.id, [item.facts.event_id for item in candidates], keys)
    grouped = plan.by_subject(plan.drop_known(candidates, outcomes, known))
    rows = [row for row in read if row[_SUBJECT_KEY] in grouped]  # not those whose every event was known
    subjects = plan.subjects_known(store.SUBJECT_COLUMNS, rows, store.facility_codes(facilities, rows))
    for key, items in grouped.items():
        if key not in subjects:
            subjects[key] = plan.subject_new(key, agency.id, store.SUBJECT_BLANK, items[0])
    plans, needs_history = plan.plans_start(subjects, grouped)
    plan.plans_finish(plans, store.histories(needs_history), facilities, outcomes)
    audit = AuditEntries.for_objects(
        AuditEntryIn(f"agency:{agency.code}", "agency", "create", "custody_event", ""),
        [f"{agency.code}:{o.event_id}" for o in outcomes if o.status in RECORDED],
    )
    written_at = timezone.now()
    prepared = store.Prepared(plan.rows(agency.id, plans, received_at, written_at))
    changed = [p.subject for p in plans.values() if p.accepted and _identity_changed(p.subject)]
    as_read = {k: p.subject.row for k, p in plans.items() if p.subject.row is not None}
    return _Draft(outcomes, plans, audit, written_at, prepared, changed, plan.notifying(plans),
                  plan.contacts_carried(plans), as_read, commits)


def _draft_unchanged(draft: _Draft) -> bool:
    """True when no other connection has committed since the draft's reads began (SQLite only): the draft
    then holds without reading anything again. An agency pushing its batches one after another on one
    connection, with nobody else writing, is spared the check."""
    return draft.commits is not None and store.commits_seen() == draft.commits


def _draft_holds(agency: Agency, draft: _Draft) -> bool:
    """True when what the draft read is still what is stored: none of its new events has been recorded
    since, and each of its subjects is as read (ingestion rewrites a subject's row, at least its
    ``updated_at``, whenever it records an event of theirs, so a changed history shows there too)."""
    new_ids = [o.event_id for o in draft.outcomes if o.status in RECORDED and o.event_id is not None]
    if store.event_ids_known(agency.id, new_ids):
        return False
    rows = store.subject_rows(agency.id, list(draft.plans))
    return len(rows) == len(draft.as_read) and all(draft.as_read.get(row[_SUBJECT_KEY]) == row for row in rows)
