"""Writes for feeds: roster import, diff and quarantine, review decisions, feed health and pull connectors.

A roster snapshot says who is in custody now. It is diffed against the facility's population with
polars and becomes BOOKED / RELEASED / TRANSFERRED events that go through
``vinex.pipeline.events_ingest`` exactly like pushed events, so duplicates, ordering and
notifications follow the same rules. A snapshot that looks wrong is held for review instead.

The optional ``scheduled_release`` column becomes a RELEASE_SCHEDULED event when a person's date
appears or changes (who may read the date is the disclosure policy's business). A date that
disappears from the roster sends nothing and the known date stands: the state machine cannot say
"no date any more", a blank cell is as often an export glitch as news, and telling a victim that a
release date was withdrawn on the strength of a blank cell could do more harm than good. The date
ends with the release itself, as for pushed events.
"""

from __future__ import annotations

import hashlib
import io
import logging
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from statistics import median
from typing import Any, TypeVar

import polars as pl
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from pydantic import BaseModel

from vinex.audit.unit import Actor, AuditUnit, audit_unit
from vinex.core.gc import collector_paused
from vinex.custody.models import (
    Agency,
    CustodyEvent,
    CustodyStatus,
    EventSource,
    EventType,
    Facility,
    ReleaseReason,
)
from vinex.custody.schemas import EventIn, IdentifiersIn, SubjectIn
from vinex.feeds import selectors
from vinex.feeds.models import (
    AgencyFeed,
    EventCursor,
    FacilityFeed,
    FeedAlert,
    FeedAlertRecipient,
    PendingDeparture,
    Snapshot,
    SnapshotData,
    SnapshotStatus,
)
from vinex.feeds.parsing import Kind, ParsedRoster, file_digest, roster_parse, tidy, with_moment
from vinex.notify.lifecycle import registrant_withdraw
from vinex.notify.models import Contact, CreatedVia
from vinex.notify.services import (
    contact_add,
    contact_opt_out,
    contacts_find,
    notification_enqueue_direct,
    registrant_create,
)
from vinex.pipeline import IncomingEvent, events_ingest

logger = logging.getLogger(__name__)

INGEST_CHUNK = 10_000
SAMPLE_SIZE = 20
# A derived event a moment after the subject's newest one, so it is news and not late history.
_AFTER = timedelta(microseconds=1)

Progress = Callable[[str, int], None]


class SnapshotDecisionError(ValueError):
    """A held snapshot cannot be applied or rejected as asked."""


# --- Diff ------------------------------------------------------------------------------------------


@dataclass
class Change:
    """One derived event: who, what, and where it came from in the snapshot."""

    agency_subject_id: str
    kind: str
    line: int | None
    occurred_at: datetime
    row: dict[str, Any] | None = None
    from_facility: str | None = None
    names: tuple[str, str] = ("", "")
    scheduled_for: datetime | None = None
    refused: bool = False


@dataclass
class RosterDiff:
    population: int
    changes: list[Change]
    unchanged: int
    counts: dict[str, int] = field(default_factory=dict)
    pending: PendingPlan | None = None
    # RELEASE_SCHEDULED events, recorded after ``changes`` so a booking and its release date both notify.
    schedules: list[Change] = field(default_factory=list)

    def count(self, bucket: str) -> int:
        return self.counts.get(bucket, 0)


_BUCKET: dict[str, str] = {
    EventType.BOOKED: "booked", EventType.RETURNED_TO_CUSTODY: "booked", EventType.RECAPTURED: "booked",
    EventType.RELEASED: "released", EventType.TRANSFERRED: "transferred", EventType.RELEASE_SCHEDULED: "scheduled",
}
_ARRIVAL_FROM = {CustodyStatus.ON_LEAVE: EventType.RETURNED_TO_CUSTODY, CustodyStatus.ESCAPED: EventType.RECAPTURED}


def roster_diff(*, facility: Facility, rows: pl.DataFrame, kept_ids: list[str], as_of: datetime,
                population: pl.Series | None = None) -> RosterDiff:
    """What applying the snapshot ``rows`` to ``facility`` would change, as of ``as_of``.

    Someone new is BOOKED (or RETURNED / RECAPTURED after a leave or an escape); someone held in
    another facility of the agency is TRANSFERRED here; someone held here and absent from the
    snapshot is RELEASED (reason unknown) unless their row failed validation (``kept_ids``). When
    other facilities of the agency send rosters too, the absent person is held as a pending
    departure instead: their new facility's next snapshot may show a transfer. A scheduled release
    that appears or changes is RELEASE_SCHEDULED (see ``_schedule_news``). ``population`` is the
    facility's population when the caller already read it.
    """
    if population is None:
        population = selectors.population_ids(facility=facility)
    ids = rows.select("agency_subject_id", "line")
    new_rows, departures = _sides(ids, population, kept_ids)
    arrivals = tidy(rows.filter(new_rows))
    pending = _pending_plan(facility, ids, departures)
    dated = _schedule_candidates(facility, rows)
    changed_ids = arrivals.get_column("agency_subject_id").to_list() + departures + [
        p.agency_subject_id for p in pending.released] + dated.get_column("agency_subject_id").to_list()
    known = selectors.subjects_known(facility=facility, ids=changed_ids)
    arrivals = with_moment(arrivals, "booked_at", facility.timezone)
    arriving = {row["agency_subject_id"]: _arrival(facility, row, known.get(row["agency_subject_id"]), as_of)
                for row in arrivals.iter_rows(named=True)}
    changes = [c for c in arriving.values() if c is not None]
    # Someone on leave from this facility may still be on its roster: that is no news.
    on_leave_here = len(arriving) - len(changes)
    if pending.waiting_for:
        pending.new = [i for i in departures if i in known and i not in pending.already]
    else:
        changes += [_departure(known[i], as_of) for i in departures if i in known]
    changes += [_departure(known[p.agency_subject_id], as_of, p.facility.code) for p in pending.released
                if p.agency_subject_id in known]
    schedules = _schedule_news(dated, arriving, known, as_of)
    counts: dict[str, int] = {"pending": len(pending.new)}
    for change in changes + schedules:
        counts[_BUCKET[change.kind]] = counts.get(_BUCKET[change.kind], 0) + 1
    return RosterDiff(len(population), changes, len(rows) - len(arrivals) + on_leave_here, counts, pending,
                      schedules)


def _sides(ids: pl.DataFrame, population: pl.Series, kept_ids: list[str]) -> tuple[pl.Series, list[str]]:
    """Which rows of ``ids`` nobody holds here yet (a mask over its rows), and ids held here that the roster lacks.

    Both sides are told apart by set membership of 64-bit hashes of the ids, several times cheaper
    than joining on the text. Each side's ids are distinct, so when no two different ids share a hash
    the rows found on both sides pair off one to one: as many on each side, with the same checksum (an
    exclusive or of a second, independent hash). A collision (about once in 10^7 million-row imports)
    breaks that pairing; it is noticed and both sides are found again on the text.
    """
    key = pl.col("agency_subject_id")
    listed = ids.select(key.hash().alias("_key"), key.hash(seed=1).alias("_check"))
    held = population.to_frame().select(key.hash().alias("_key"), key.hash(seed=1).alias("_check"))
    arriving = ~listed.get_column("_key").is_in(held.get_column("_key").implode())
    absent = ~held.get_column("_key").is_in(listed.get_column("_key").implode())
    if not _pair_off(listed.filter(~arriving), held.filter(~absent)):
        arriving = ~ids.get_column("agency_subject_id").is_in(population.implode())
        absent = ~population.is_in(ids.get_column("agency_subject_id").implode())
    departures = population.filter(absent & ~population.is_in(kept_ids)).to_list()
    return arriving.fill_null(True), departures


def _pair_off(listed: pl.DataFrame, held: pl.DataFrame) -> bool:
    """Whether the rows both sides have in common plausibly hold the same ids (see ``_sides``)."""
    checksum = pl.col("_check").bitwise_xor()
    return len(listed) == len(held) and listed.select(checksum).item() == held.select(checksum).item()


def _schedule_candidates(facility: Facility, rows: pl.DataFrame) -> pl.DataFrame:
    """Rows (tidied) with a scheduled release other than the one stored for that person at this facility.

    People not held here yet (arrivals) have no stored date among this facility's, so all of their
    dated rows are candidates; ``_schedule_news`` compares them with what vinex knows of them.
    """
    if "_scheduled_release" not in rows.columns:
        # Rows of a snapshot held for review before scheduled releases were read.
        rows = with_moment(tidy(rows), "scheduled_release", facility.timezone)
    dated = rows.filter(pl.col("_scheduled_release").is_not_null())
    if dated.is_empty():
        return dated
    stored = selectors.scheduled_releases(facility=facility)
    stored_date, new_date = pl.col("_stored_release"), pl.col("_scheduled_release")
    news = dated.join(stored, on="agency_subject_id", how="left").filter(
        stored_date.is_null() | (stored_date != new_date))
    return tidy(news.drop("_stored_release"))


def _schedule_news(dated: pl.DataFrame, arriving: dict[str, Change | None], known: dict[str, selectors.KnownSubject],
                   as_of: datetime) -> list[Change]:
    """A RELEASE_SCHEDULED for each candidate row whose date is news, just after the person's arrival if any.

    A date that disappears from the roster sends nothing: the state machine has no way to say "no
    date any more", and a blank column is as often an export glitch as a real change, so the stored
    date stands until the agency sends another one or the person is released (which clears it).
    """
    news: list[Change] = []
    for row in dated.iter_rows(named=True):
        asid, when = row["agency_subject_id"], row["_scheduled_release"]
        subject = known.get(asid)
        if subject is not None and subject.scheduled_release_at == when:
            continue  # an arrival who brings the date vinex already knows (a transfer keeps it)
        moment = _after(as_of, subject)
        arrival = arriving.get(asid)
        if arrival is not None and moment <= arrival.occurred_at:
            moment = arrival.occurred_at + _AFTER
        news.append(Change(asid, EventType.RELEASE_SCHEDULED, row["line"], moment, row, scheduled_for=when))
    return news


def _after(moment: datetime, known: selectors.KnownSubject | None) -> datetime:
    if known is not None and known.last_event_at is not None and moment <= known.last_event_at:
        return known.last_event_at + _AFTER
    return moment


def _arrival(facility: Facility, row: dict[str, Any], known: selectors.KnownSubject | None,
             as_of: datetime) -> Change | None:
    asid = row["agency_subject_id"]
    if known is not None and known.status == CustodyStatus.ON_LEAVE and known.facility_code == facility.code:
        return None
    if known is not None and known.status == CustodyStatus.IN_CUSTODY and known.facility_code not in (
            None, facility.code):
        return Change(asid, EventType.TRANSFERRED, row["line"], _after(as_of, known), row, known.facility_code)
    kind = _ARRIVAL_FROM.get(CustodyStatus(known.status), EventType.BOOKED) if known else EventType.BOOKED
    booked_at = row.get("_booked_at")
    # The booking time the agency gives is the truth, unless it would slip behind what vinex already knows.
    moment = booked_at if kind == EventType.BOOKED and booked_at is not None and booked_at <= as_of else as_of
    if known is not None and known.last_event_at is not None and moment <= known.last_event_at:
        moment = _after(as_of, known)
    return Change(asid, kind, row["line"], moment, row)


def _departure(known: selectors.KnownSubject, as_of: datetime, from_facility: str | None = None) -> Change:
    return Change(known.agency_subject_id, EventType.RELEASED, None, _after(as_of, known), from_facility=from_facility,
                  names=(known.first_name, known.last_name))


@dataclass
class PendingPlan:
    """What a snapshot does to pending departures (see ``PendingDeparture``)."""

    waiting_for: list[int] = field(default_factory=list)
    already: set[str] = field(default_factory=set)
    new: list[str] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    seen_absent: list[PendingDeparture] = field(default_factory=list)
    released: list[PendingDeparture] = field(default_factory=list)


def _pending_plan(facility: Facility, ids: pl.DataFrame, departures: list[str]) -> PendingPlan:
    plan = PendingPlan(waiting_for=selectors.roster_fed_facilities(facility=facility))
    pendings = selectors.pending_departures(agency_id=facility.agency_id)
    if not pendings:
        return plan
    wanted = [p.agency_subject_id for p in pendings]
    present = set(ids.filter(pl.col("agency_subject_id").is_in(wanted)).get_column("agency_subject_id").to_list())
    missing_here = set(departures)
    for pending in pendings:
        if pending.facility_id == facility.pk:
            if pending.agency_subject_id in missing_here:
                plan.already.add(pending.agency_subject_id)
            else:
                plan.resolved.append(pending.pk)  # back on this roster, or gone by other news
        elif pending.agency_subject_id in present:
            plan.resolved.append(pending.pk)  # here now: the arrival is a transfer
        elif facility.pk in pending.waiting_for:
            pending.waiting_for = [f for f in pending.waiting_for if f != facility.pk]
            (plan.seen_absent if pending.waiting_for else plan.released).append(pending)
    return plan


# --- Derived events --------------------------------------------------------------------------------


def _event_id(facility: Facility, base: int, content_hash: str, change: Change) -> str:
    # Deterministic for one content applied on top of one earlier snapshot: a retried or concurrent
    # import finds every event already recorded, while A, B, A again still records A's changes anew.
    return f"roster:{facility.pk}:{base}:{content_hash[:12]}:{change.kind}:{change.agency_subject_id}"


def _subject_payload(change: Change) -> dict[str, Any]:
    row = change.row
    if row is None:
        return {"agency_subject_id": change.agency_subject_id, "first_name": change.names[0] or "-",
                "last_name": change.names[1] or "-"}
    identifiers = {k: row[k] for k in ("a_number", "fbi_number", "state_id", "booking_number") if row.get(k)}
    subject: dict[str, Any] = {"agency_subject_id": row["agency_subject_id"], "first_name": row["first_name"],
                               "last_name": row["last_name"]}
    if row.get("_dob") is not None:
        subject["date_of_birth"] = row["_dob"]
    if row.get("country_of_birth"):
        subject["country_of_birth"] = row["country_of_birth"]
    if identifiers:
        subject["identifiers"] = identifiers
    return subject


def _incoming(facility: Facility, snapshot: Snapshot, base: int, change: Change) -> IncomingEvent:
    raw: dict[str, Any] = {
        "event_id": _event_id(facility, base, snapshot.content_hash, change),
        "type": change.kind,
        "occurred_at": change.occurred_at,
        "facility_code": change.from_facility or facility.code,
        "subject": _subject_payload(change),
    }
    if change.kind == EventType.TRANSFERRED:
        raw["to_facility_code"] = facility.code
    if change.kind == EventType.RELEASED:
        raw["reason"] = ReleaseReason.UNKNOWN
    if change.kind == EventType.RELEASE_SCHEDULED:
        raw["scheduled_for"] = change.scheduled_for
    where = f"row:{change.line}" if change.line is not None else "absent"
    # The payload is derived from the snapshot, so a digest of its repr is as good as canonical JSON.
    digest = hashlib.sha256(repr(raw).encode()).hexdigest()
    return IncomingEvent(data=event_in(raw), payload_hash=digest, source=EventSource.ROSTER,
                         source_ref=f"snapshot:{snapshot.pk}:{where}")


def event_in(raw: dict[str, Any]) -> EventIn:
    """The EventIn for a derived event, built without validating it again.

    The subject's values come from roster rows that passed exactly the rules the API applies, as
    polars checks generated from the same table (``vinex.custody.rules``; ``parsing`` refuses a row
    that breaks one, and a property test holds both paths to the same answers and the same normal
    forms), or, for someone absent from the roster, from the subject as stored. The event's own
    fields are vinex's. Validating ten thousand events one by one would cost more than the whole diff.
    """
    subject = raw["subject"]
    if "identifiers" in subject:
        subject = {**subject, "identifiers": _construct(IdentifiersIn, subject["identifiers"])}
    return _construct(EventIn, {**raw, "subject": _construct(SubjectIn, subject)})


ModelT = TypeVar("ModelT", bound=BaseModel)


def _construct(model: type[ModelT], values: dict[str, Any]) -> ModelT:
    """What ``model.model_construct(**values)`` returns, at a third of its cost.

    ``model_construct`` looks at every field's aliases and defaults on every call; the defaults are
    taken once here (they are all None on these models). A test compares the result with validation.
    """
    instance = model.__new__(model)
    _set(instance, "__dict__", {**_defaults(model), **values})
    _set(instance, "__pydantic_fields_set__", set(values))
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance


_set = object.__setattr__


@cache
def _defaults(model: type[BaseModel]) -> dict[str, Any]:
    defaults = {name: f.get_default(call_default_factory=True) for name, f in model.model_fields.items()
                if not f.is_required()}
    # Shared by every instance, so only immutable defaults may be cached.
    assert all(isinstance(v, str | int | float | bool | type(None)) for v in defaults.values()), model
    return defaults


def _chunks(items: list[Change]) -> Iterator[list[Change]]:
    for start in range(0, len(items), INGEST_CHUNK):
        yield items[start : start + INGEST_CHUNK]


def _apply_diff(snapshot: Snapshot, diff: RosterDiff, progress: Progress | None, actor: Actor) -> list[dict[str, Any]]:
    """Record the derived events; returns the errors of events the state machine refused."""
    facility = snapshot.facility
    previous = (Snapshot.objects.filter(facility=facility, status=SnapshotStatus.APPLIED).exclude(pk=snapshot.pk)
                .order_by("-received_at", "-pk").values_list("pk", flat=True).first())
    base = previous or 0
    errors = _record(snapshot, base, diff, diff.changes, progress, actor)
    refused = {c.agency_subject_id for c in diff.changes if c.refused}
    # A release date for someone whose arrival was refused would place them here all the same.
    schedules = [c for c in diff.schedules if c.agency_subject_id not in refused]
    diff.counts["scheduled"] = len(schedules)
    return errors + _record(snapshot, base, diff, schedules, progress, actor)


def _record(snapshot: Snapshot, base: int, diff: RosterDiff, changes: list[Change],
            progress: Progress | None, actor: Actor) -> list[dict[str, Any]]:
    facility = snapshot.facility
    errors: list[dict[str, Any]] = []
    for chunk in _chunks(changes):
        events = [_incoming(facility, snapshot, base, c) for c in chunk]
        outcomes = events_ingest(agency=facility.agency, events=events, received_at=snapshot.received_at,
                                 actor=actor)
        for change, outcome in zip(chunk, outcomes, strict=True):
            # A derived event the state machine holds (pending) changes no status: as refused as a rejected one.
            if outcome.status in ("accepted", "duplicate"):
                continue
            change.refused = True
            diff.counts[_BUCKET[change.kind]] -= 1
            msg = "; ".join(e["msg"] for e in outcome.errors) or "refused"
            loc: list[str | int] = ["line", change.line, "agency_subject_id"] if change.line else ["absent"]
            errors.append({"loc": loc, "msg": f"{change.kind} refused: {msg}", "type": "refused_event"})
        if progress:
            progress("events", len(chunk))
    return errors


# --- Quarantine ------------------------------------------------------------------------------------


def quarantine_reasons(*, facility: Facility, parsed: ParsedRoster, diff: RosterDiff) -> list[str]:
    """Why a snapshot looks wrong enough to hold for a person to check; empty when it looks right."""
    reasons: list[str] = []
    valid = len(parsed.rows)
    if parsed.total_rows == 0:
        reasons.append("the snapshot is empty")
    if parsed.truncated:
        reasons.append("the file ends in the middle of a row (truncated)")
    released = diff.count("released") + diff.count("pending")
    share = settings.VINEX_ROSTER_MAX_RELEASE_SHARE
    if diff.population and released > share * diff.population and released >= settings.VINEX_ROSTER_MIN_RELEASES:
        reasons.append(f"{released} of {diff.population} people ({released / diff.population:.0%}) would be released"
                       f" at once (limit {share:.0%})")
    if parsed.total_rows and len(parsed.errors) / parsed.total_rows > settings.VINEX_ROSTER_MAX_ERROR_SHARE:
        reasons.append(f"{len(parsed.errors)} of {parsed.total_rows} rows failed validation")
    recent = selectors.snapshots_recent_applied(facility=facility, limit=settings.VINEX_ROSTER_TREND_WINDOW)
    if recent:
        if sorted(recent[0].header) != sorted(parsed.header):
            reasons.append(f"the header changed from {recent[0].header} to {parsed.header}")
        trend = median(s.row_count - s.error_count for s in recent)
        tolerance = settings.VINEX_ROSTER_TREND_TOLERANCE
        if trend >= settings.VINEX_ROSTER_TREND_MIN_ROWS and abs(valid - trend) > tolerance * trend:
            reasons.append(f"{valid} valid rows, far from the recent {trend:g} (tolerance {tolerance:.0%})")
    return reasons


def _summary(diff: RosterDiff) -> dict[str, Any]:
    sample: dict[str, list[str]] = {}
    for change in diff.changes + diff.schedules:
        bucket = sample.setdefault(_BUCKET[change.kind], [])
        if len(bucket) < SAMPLE_SIZE:
            bucket.append(change.agency_subject_id)
    return {"population": diff.population, "booked": diff.count("booked"), "released": diff.count("released"),
            "transferred": diff.count("transferred"), "pending_departures": diff.count("pending"),
            "release_scheduled": diff.count("scheduled"),
            "unchanged": diff.unchanged, "sample": sample}


def _frame_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    return buffer.getvalue()


# --- Import ----------------------------------------------------------------------------------------


def agency_column_map(*, agency: Agency) -> dict[str, str]:
    feed = AgencyFeed.objects.filter(agency=agency).first()
    return dict(feed.column_map) if feed else {}


def roster_import(
    *,
    facility: Facility,
    path: Path,
    origin: str,
    actor: Actor,
    content_type: str = "",
    content_hash: str | None = None,
    received_at: datetime | None = None,
    progress: Progress | None = None,
    hold_reasons: list[str] | None = None,
    population: pl.Series | None = None,
) -> Snapshot:
    """Import a full roster file for ``facility``: apply it, or hold it for review when it looks wrong.

    Importing the same content again as the facility's latest snapshot returns that snapshot and
    changes nothing. Bad rows are reported (``snapshot.errors``) and skipped, and their people keep
    their status. Raises ``RosterFormatError`` when the file has no usable header or shape. ``actor``
    is who delivered the file (the agency's key, a command, the scheduler's connector run).
    ``hold_reasons`` (what a connector found wrong at the edge) hold the snapshot whatever its rows say.
    ``population`` is the facility's population (``selectors.population_ids``) when the caller already
    read it, for instance while the file was arriving.
    """
    with collector_paused():
        return _roster_import(facility=facility, path=path, origin=origin, content_type=content_type,
                              content_hash=content_hash, received_at=received_at, progress=progress, actor=actor,
                              hold_reasons=hold_reasons or [], population=population)


def _roster_import(*, facility: Facility, path: Path, origin: str, content_type: str, content_hash: str | None,
                   received_at: datetime | None, progress: Progress | None, actor: Actor,
                   hold_reasons: list[str], population: pl.Series | None) -> Snapshot:
    if content_hash is not None and (latest := _same_as_latest(facility, content_hash)):
        return latest
    received_at = received_at or timezone.now()
    if newer := _applied_after(facility, received_at):
        return _superseded(facility, newer, path=path, origin=origin, content_hash=content_hash,
                           received_at=received_at)
    kind: Kind | None = "json" if "json" in content_type else "csv" if "csv" in content_type else None
    column_map = agency_column_map(agency=facility.agency)
    with tempfile.TemporaryDirectory(prefix="vinex-roster-") as scratch, ThreadPoolExecutor(1) as pool:
        # The file is parsed in a thread while this one hashes it and reads the population (unless the
        # caller has, as the API does while the upload arrives): polars,
        # hashlib, and SQLite or PostgreSQL building the population as one JSON array all work outside
        # the GIL. (A file that turns out to be the latest snapshot again was parsed for nothing.)
        parsing = pool.submit(roster_parse, path, scratch=Path(scratch), facility_code=facility.code,
                              timezone_name=facility.timezone, column_map=column_map, kind=kind)
        if content_hash is None:
            content_hash = file_digest(path)
            if latest := _same_as_latest(facility, content_hash):
                return latest
        if population is None:
            population = selectors.population_ids(facility=facility)
        parsed = parsing.result()
    if progress:
        progress("parsed", parsed.total_rows)
    diff = roster_diff(facility=facility, rows=parsed.rows, kept_ids=parsed.kept_ids, as_of=received_at,
                       population=population)
    reasons = hold_reasons + quarantine_reasons(facility=facility, parsed=parsed, diff=diff)
    if progress:
        progress("changes", 0 if reasons else len(diff.changes) + len(diff.schedules))
    limit = settings.VINEX_ROSTER_MAX_REPORTED_ERRORS
    with transaction.atomic():
        snapshot = Snapshot.objects.create(
            facility=facility, received_at=received_at, origin=origin, content_hash=content_hash,
            header=parsed.header, row_count=parsed.total_rows, error_count=len(parsed.errors),
            errors=[e.as_detail(parsed.line_unit) for e in parsed.errors[:limit]],
            status=SnapshotStatus.QUARANTINED if reasons else SnapshotStatus.APPLIED, reasons=reasons,
            summary=_summary(diff), unchanged=diff.unchanged,
        )
        if reasons:
            SnapshotData.objects.create(snapshot=snapshot, rows=_frame_bytes(parsed.rows), kept_ids=parsed.kept_ids)
            _set_counts(snapshot, diff)
            logger.warning("roster snapshot held for review", extra={"snapshot": snapshot.pk, "reasons": len(reasons)})
        else:
            _apply(snapshot, diff, progress, actor)
    return snapshot


def _applied_after(facility: Facility, moment: datetime) -> Snapshot | None:
    """The facility's newest applied snapshot when it describes a later moment than ``moment``."""
    return (Snapshot.objects.filter(facility=facility, status=SnapshotStatus.APPLIED, received_at__gt=moment)
            .order_by("-received_at", "-pk").first())


def _superseded(facility: Facility, newer: Snapshot, *, path: Path, origin: str, content_hash: str | None,
                received_at: datetime) -> Snapshot:
    """Record a snapshot older than one already applied, and apply nothing: a roster is a whole state, so
    diffing a late one against the newer state would undo what the newer one said (re-book people it
    released, release people it booked)."""
    reason = (f"the snapshot describes {received_at.isoformat()}, before snapshot {newer.pk} already applied "
              f"({newer.received_at.isoformat()}); a late snapshot never undoes a newer one")
    logger.info("late roster snapshot not applied", extra={"facility": facility.pk, "newer": newer.pk})
    return Snapshot.objects.create(facility=facility, received_at=received_at, origin=origin,
                                   content_hash=content_hash or file_digest(path), status=SnapshotStatus.REJECTED,
                                   reasons=[reason])


def _same_as_latest(facility: Facility, content_hash: str) -> Snapshot | None:
    """The facility's latest snapshot when it has this content (importing it again changes nothing)."""
    latest = selectors.snapshot_latest(facility=facility)
    if latest and latest.content_hash == content_hash and latest.status != SnapshotStatus.REJECTED:
        return latest
    return None


def _set_counts(snapshot: Snapshot, diff: RosterDiff) -> None:
    snapshot.booked, snapshot.released = diff.count("booked"), diff.count("released")
    snapshot.transferred, snapshot.unchanged = diff.count("transferred"), diff.unchanged
    snapshot.save(update_fields=["booked", "released", "transferred", "unchanged", "errors", "error_count",
                                 "status", "decided_by", "decided_at", "decision_note", "summary"])


def _apply(snapshot: Snapshot, diff: RosterDiff, progress: Progress | None, actor: Actor) -> None:
    refused = _apply_diff(snapshot, diff, progress, actor)
    if diff.pending is not None:
        _pending_record(snapshot, diff.pending)
    snapshot.status = SnapshotStatus.APPLIED
    snapshot.errors = list(snapshot.errors) + refused
    snapshot.error_count += len(refused)
    snapshot.summary = {**snapshot.summary, "release_scheduled": diff.count("scheduled")}
    _set_counts(snapshot, diff)
    _feed_heard(snapshot.facility, snapshot_at=snapshot.received_at)


def _pending_record(snapshot: Snapshot, plan: PendingPlan) -> None:
    PendingDeparture.objects.filter(pk__in=plan.resolved + [p.pk for p in plan.released]).delete()
    for pending in plan.seen_absent:
        PendingDeparture.objects.filter(pk=pending.pk).update(waiting_for=pending.waiting_for)
    PendingDeparture.objects.bulk_create(
        [PendingDeparture(facility=snapshot.facility, agency_subject_id=i, snapshot=snapshot,
                          noticed_at=snapshot.received_at, waiting_for=plan.waiting_for) for i in plan.new],
        ignore_conflicts=True,
    )


def pending_departures_release_due(*, now: datetime, actor: Actor) -> int:
    """Release the people missing from a roster for more than twice their feed's cadence; returns how many."""
    released = 0
    for pending in selectors.pending_departures_overdue(now=now):
        known = selectors.subjects_known(facility=pending.facility, ids=[pending.agency_subject_id])
        subject = known.get(pending.agency_subject_id)
        with transaction.atomic():
            if subject is not None and subject.status == CustodyStatus.IN_CUSTODY and (
                    subject.facility_code == pending.facility.code):
                change = _departure(subject, now)
                raw_id = f"roster:{pending.facility_id}:pending:{pending.pk}:RELEASED:{pending.agency_subject_id}"
                incoming = _incoming(pending.facility, pending.snapshot, 0, change)
                incoming = IncomingEvent(data=incoming.data.model_copy(update={"event_id": raw_id}),
                                         payload_hash=incoming.payload_hash, source=incoming.source,
                                         source_ref=f"snapshot:{pending.snapshot_id}:absent")
                outcome = events_ingest(agency=pending.facility.agency, events=[incoming], actor=actor)[0]
                released += outcome.status == "accepted"
            pending.delete()
    return released


def _feed_heard(facility: Facility, *, snapshot_at: datetime) -> None:
    feed, _ = FacilityFeed.objects.get_or_create(facility=facility)
    if feed.last_snapshot_at is None or feed.last_snapshot_at < snapshot_at:
        FacilityFeed.objects.filter(pk=feed.pk).update(last_snapshot_at=snapshot_at)


# --- Review ----------------------------------------------------------------------------------------


def _check_reviewer(user: Any) -> None:
    if not (user and user.is_active and user.has_perm("feeds.review_snapshot")):
        raise PermissionDenied("reviewing roster snapshots needs the feeds.review_snapshot permission")


def snapshot_approve(*, snapshot: Snapshot, user: Any, note: str = "") -> Snapshot:
    """Apply a held snapshot against the facility's population as it is now, recording who decided and when.

    Only the facility's newest snapshot can be applied: an older one would undo newer news.
    """
    _check_reviewer(user)
    with transaction.atomic():
        snapshot = Snapshot.objects.select_for_update().select_related("facility__agency").get(pk=snapshot.pk)
        if snapshot.status != SnapshotStatus.QUARANTINED:
            raise SnapshotDecisionError(f"snapshot {snapshot.pk} is {snapshot.status}, not held")
        latest = selectors.snapshot_latest(facility=snapshot.facility)
        if latest is not None and latest.pk != snapshot.pk:
            raise SnapshotDecisionError(f"a newer snapshot ({latest.pk}) of this facility exists; reject this one")
        data = SnapshotData.objects.get(snapshot=snapshot)
        rows = pl.read_parquet(io.BytesIO(bytes(data.rows)))
        diff = roster_diff(facility=snapshot.facility, rows=rows, kept_ids=list(data.kept_ids),
                           as_of=max(snapshot.received_at, timezone.now()))
        snapshot.decided_by, snapshot.decided_at, snapshot.decision_note = user, timezone.now(), note[:300]
        snapshot.summary = _summary(diff)
        _apply(snapshot, diff, None, Actor.staff(f"user:{user.pk}"))
        data.delete()
    return snapshot


def snapshot_reject(*, snapshot: Snapshot, user: Any, note: str = "") -> Snapshot:
    """Discard a held snapshot without changing anyone's status, recording who decided and when."""
    _check_reviewer(user)
    with transaction.atomic():
        snapshot = Snapshot.objects.select_for_update().get(pk=snapshot.pk)
        if snapshot.status != SnapshotStatus.QUARANTINED:
            raise SnapshotDecisionError(f"snapshot {snapshot.pk} is {snapshot.status}, not held")
        snapshot.status = SnapshotStatus.REJECTED
        snapshot.decided_by, snapshot.decided_at, snapshot.decision_note = user, timezone.now(), note[:300]
        snapshot.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        SnapshotData.objects.filter(snapshot=snapshot).delete()
    return snapshot


# --- Feed health -----------------------------------------------------------------------------------


class AlertRecipientError(ValueError):
    """A feed alert recipient cannot be added or removed as asked."""


# Feed alerts go by email or SMS; a voice call with a PIN to confirm is for victims, not for operators.
ALERT_CHANNELS = ("email", "sms")


def _operator_contact(channel: str, value: str, actor: Actor) -> Contact | None:
    """An operator contact already holding this value (found by blind index), unless it was removed."""
    found = [c for c in contacts_find(channel=channel, value=value, actor=actor)
             if c.registrant.created_via == CreatedVia.OPERATOR and c.registrant.withdrawn_at is None]
    return found[0] if found else None


def feed_alert_recipient_add(*, value: str, actor: Actor, channel: str = "email", agency: Agency | None = None,
                             language: str = "en") -> FeedAlertRecipient:
    """Send feed alerts for ``agency`` (or, without one, for every feed: the vinex operator) to this contact.

    The value is validated and normalised (an email address, or a phone number for SMS; raises
    ``InvalidContact``) and stored encrypted like every contact. Adding the same recipient twice
    returns the first.
    """
    if channel not in ALERT_CHANNELS:
        raise AlertRecipientError(f"feed alerts go by {' or '.join(ALERT_CHANNELS)}, not {channel!r}")
    with audit_unit(actor=actor) as unit:
        contact = _operator_contact(channel, value, actor)
        if contact is None:
            registrant = registrant_create(language=language, created_via=CreatedVia.OPERATOR, actor=actor)
            # Verified by whoever adds it: an operator names their own team's address.
            contact = contact_add(registrant=registrant, channel=channel, value=value, verified=True, actor=actor)
        recipient, created = FeedAlertRecipient.objects.get_or_create(agency=agency, contact=contact)
        if created:
            _audit_recipient(unit, "create", recipient)
    return recipient


def feed_alert_recipient_remove(*, value: str, actor: Actor, channel: str = "email",
                                agency: Agency | None = None) -> None:
    """Stop sending ``agency``'s feed alerts (or the operator's, without one) to this contact.

    A contact left with no feed alerts to receive is withdrawn, so retention erases its value.
    Raises ``AlertRecipientError`` when the contact does not receive those alerts.
    """
    with audit_unit(actor=actor) as unit:
        contact = _operator_contact(channel, value, actor)
        recipient = FeedAlertRecipient.objects.filter(agency=agency, contact=contact).first() if contact else None
        if recipient is None or contact is None:
            raise AlertRecipientError("that contact does not receive these feed alerts")
        _audit_recipient(unit, "delete", recipient)
        recipient.delete()
        if not FeedAlertRecipient.objects.filter(contact=contact).exists():
            _contact_retire(contact, actor)


def _contact_retire(contact: Contact, actor: Actor) -> None:
    registrant = contact.registrant
    registrant_withdraw(registrant=registrant, when=timezone.now())
    contact_opt_out(contacts=list(registrant.contacts.all()), when=registrant.withdrawn_at, actor=actor)


def _audit_recipient(unit: AuditUnit, action: str, recipient: FeedAlertRecipient) -> None:
    scope = recipient.agency.code if recipient.agency else "operator"
    unit.add(action, "feed_alert_recipient", recipient.pk, purpose=f"feed alerts for {scope}")


def feed_events_catch_up() -> int:
    """Count custody events recorded since the last call towards their facility's feed health."""
    with transaction.atomic():
        cursor, _ = EventCursor.objects.select_for_update().get_or_create(pk=1)
        # Ids only grow, so the scan covers new events alone. An event committed late with a lower id
        # is missed here, which can only make its facility look quieter, never healthier.
        rows = (CustodyEvent.objects.filter(pk__gt=cursor.last_event_pk).values("facility_id")
                .annotate(last=Max("received_at"), top=Max("pk")).order_by())
        top = cursor.last_event_pk
        for row in rows:
            feed, _ = FacilityFeed.objects.get_or_create(facility_id=row["facility_id"])
            if feed.last_event_at is None or feed.last_event_at < row["last"]:
                FacilityFeed.objects.filter(pk=feed.pk).update(last_event_at=row["last"])
            top = max(top, row["top"])
        if top != cursor.last_event_pk:
            EventCursor.objects.filter(pk=cursor.pk).update(last_event_pk=top)
    return top


def _alert_text(status: selectors.FeedStatus) -> tuple[str, str]:
    facility = status.feed.facility
    since = f"{status.silent_since:%Y-%m-%d %H:%M} UTC"
    hours = status.cadence.total_seconds() / 3600
    subject = f"vinex: feed from {status.label} is silent"
    body = (
        f"Nothing has arrived from {facility.name} ({status.label}) since {since}.\n"
        f"This feed is expected every {hours:g} hours, so it is now overdue.\n\n"
        "Until it resumes, custody changes at this facility reach victims late or not at all. "
        "Please check the agency's export or connection, or send a roster snapshot.\n"
    )
    return subject, body


def feed_health_check(*, now: datetime, actor: Actor) -> list[FeedAlert]:
    """Raise one alert per silent period of each stale feed, to the agency's and the operator's contacts."""
    raised: list[FeedAlert] = []
    for status in selectors.feed_statuses(now=now):
        if not status.stale:
            continue
        facility = status.feed.facility
        with audit_unit(actor=actor):
            alert, created = FeedAlert.objects.get_or_create(
                facility=facility, silent_since=status.silent_since, defaults={"raised_at": now}
            )
            if not created:
                continue
            subject_line, body = _alert_text(status)
            recipients = FeedAlertRecipient.objects.filter(
                Q(agency=facility.agency) | Q(agency__isnull=True)).select_related("contact__registrant")
            for recipient in recipients:
                if recipient.contact.reachable:
                    notification_enqueue_direct(contact=recipient.contact, template="feed_stale", body=body,
                                                subject_line=subject_line, actor=actor,
                                                language=recipient.contact.registrant.language)
                    alert.notified += 1
            alert.save(update_fields=["notified"])
        logger.warning("feed silent", extra={"facility": status.label, "recipients": alert.notified})
        raised.append(alert)
    return raised

