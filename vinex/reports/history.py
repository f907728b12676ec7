"""The custody state machine's answers for every subject at once, as polars expressions.

``vinex.custody.statemachine.derive`` folds one history at a time; a report needs millions. The fold has
a closed form that this module computes per subject over the ordered events (``occurred_at``, then
``event_id``: the state machine's order, carried as ``tie``), and ``tests/reports/test_history.py`` checks it
against ``statemachine.replay`` on random histories:

- an event is *retracted* when a CORRECTION names it, or when a CORRECTION that names nothing follows it
  as the last event before it that is neither a hearing nor a correction (``statemachine.corrected_ids``);
- ``apply`` sets the status to ``TARGET_STATUS[type]`` for every event with a target and keeps it for the
  rest, so the status after a history is the target of its last unretracted event with a target
  (``UNKNOWN`` when there is none);
- the facility of the state is set by every unretracted event that is neither a hearing nor a correction
  (the destination of a TRANSFERRED, the event's facility otherwise);
- that closed form holds while every event can follow the ones before it. The state machine holds an
  event that cannot (it counts for nothing until the events that explain it arrive), and from there on
  the fold depends on what was held; so the few histories with such an event are folded by
  ``statemachine.replay`` itself, one by one, and their answers replace the closed form's.

The frame of events has the columns of ``EVENT_SCHEMA``: times in microseconds since the epoch (UTC) and
the type as its index in ``TYPES``, which keeps ten million rows small.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import NamedTuple

import polars as pl

from vinex.custody import statemachine
from vinex.custody.models import CustodyStatus, EventType
from vinex.custody.statemachine import ALLOWED_FROM, HEARING_TYPES, TARGET_STATUS

TYPES: tuple[str, ...] = tuple(EventType.values)
STATUSES: tuple[str, ...] = tuple(CustodyStatus.values)
CORRECTION = TYPES.index(EventType.CORRECTION)
TRANSFERRED = TYPES.index(EventType.TRANSFERRED)
BOOKED = TYPES.index(EventType.BOOKED)
HEARINGS = [TYPES.index(t) for t in HEARING_TYPES]
# The status each type leads to, as an index into STATUSES (types that keep the status are absent).
TARGETS = {TYPES.index(t): STATUSES.index(s) for t, s in TARGET_STATUS.items() if s is not None}
UNKNOWN = STATUSES.index(CustodyStatus.UNKNOWN)

# 32-bit ids (two billion of each) keep ten million events near 350 MB.
EVENT_SCHEMA = {
    "id": pl.Int32,
    "agency_id": pl.Int32,
    "subject_id": pl.Int32,
    "type": pl.Int8,
    "occurred_us": pl.Int64,
    "facility_id": pl.Int32,
    "to_facility_id": pl.Int32,
    # For a CORRECTION: the id of the event it names (null if it names none or none of this subject's).
    "corrects_id": pl.Int32,
    "names_target": pl.Boolean,
    # The event's place among events at the same instant: the rank of (occurred_at, event_id), the state
    # machine's order (never arrival order, which would make a history depend on how it came in).
    "tie": pl.Int32,
}

_ORDER = ["subject_id", "occurred_us", "tie"]


def ordered(events: pl.DataFrame) -> pl.DataFrame:
    """The events in each subject's history order."""
    return events.sort(_ORDER)


_SEED = -1  # stands for "none yet" at a subject's first event, so that filling never crosses subjects


def _previous(value: pl.Expr) -> pl.Expr:
    """For each event, the last non-null ``value`` among the events before it in its subject's history (null if
    none): ``value.forward_fill().shift(1).over("subject_id")`` on a frame ordered by subject, computed in one
    pass instead of one group per subject. ``value`` must never be ``_SEED``."""
    first = (pl.col("subject_id") != pl.col("subject_id").shift(1)).fill_null(True)
    seeded = pl.when(value.is_null() & first).then(pl.lit(_SEED)).otherwise(value)
    previous = seeded.forward_fill().shift(1)
    return pl.when(first | (previous == _SEED)).then(None).otherwise(previous)


def retractions(events: pl.DataFrame) -> pl.DataFrame:
    """``target_id`` and ``by_us`` (when the retracting CORRECTION occurred), one row per retraction.

    ``events`` must be ``ordered``.
    """
    kind = pl.col("type")
    custody = ~kind.is_in([CORRECTION, *HEARINGS])
    previous = _previous(pl.when(custody).then(pl.col("id")))
    # Only the histories with a correction (few) are walked, found by the streaming engine: a frame of millions
    # in several pieces is otherwise copied whole into one before it is filtered. Ordered again after, since
    # the fill below follows each history's order.
    corrected = events.lazy().filter(kind == CORRECTION).select("subject_id").unique().collect(engine="streaming")
    histories = (events.lazy().filter(pl.col("subject_id").is_in(corrected.get_column("subject_id").implode()))
                 .collect(engine="streaming").sort(_ORDER))
    corrections = histories.with_columns(previous=previous).filter(kind == CORRECTION)
    target = pl.when(pl.col("names_target")).then(pl.col("corrects_id")).otherwise(pl.col("previous"))
    return (corrections.select(target_id=target, by_us=pl.col("occurred_us"))
            .drop_nulls("target_id").group_by("target_id").agg(pl.col("by_us").min()))


_FOLD_COLUMNS = ("id", "agency_id", "subject_id", "type", "occurred_us", "facility_id", "to_facility_id")


def _applied(events: pl.DataFrame, retracted: pl.DataFrame, end_us: int) -> pl.DataFrame:
    """The history up to ``end_us`` with the events retracted within it left out (in order)."""
    gone = retracted.filter(pl.col("by_us") < end_us).get_column("target_id")
    # Only the columns the fold reads: at ten million events every column kept is a copy.
    return events.select(*_FOLD_COLUMNS).filter((pl.col("occurred_us") < end_us) & ~pl.col("id").is_in(gone.implode()))


def _target() -> pl.Expr:
    return pl.col("type").replace_strict(TARGETS, default=None, return_dtype=pl.Int8)


class Fold(NamedTuple):
    """The state machine's answers at one instant: ``statuses`` (``agency_id``, ``subject_id``, ``status``) and
    ``contradictions`` (the held events: ``id``, ``agency_id``, ``subject_id``, ``occurred_us``)."""

    statuses: pl.DataFrame
    contradictions: pl.DataFrame


def fold_at(events: pl.DataFrame, retracted: pl.DataFrame, end_us: int) -> Fold:
    """``statuses_at`` and ``contradictions_at`` together, the histories applied and replayed once."""
    parts = [_fold_part(part, retracted, end_us) for part in _by_subjects(events)]
    if not parts:
        parts = [_fold_part(events, retracted, end_us)]
    return Fold(pl.concat([p.statuses for p in parts]), pl.concat([p.contradictions for p in parts]))


_SLICE = 1_000_000  # events per slice of whole histories: bounds the memory the fold's columns take at once


def _by_subjects(events: pl.DataFrame) -> list[pl.DataFrame]:
    """``events`` (ordered by subject) cut into slices of about ``_SLICE`` rows, never inside a history."""
    subjects = events.get_column("subject_id")
    cuts = sorted({0, events.height, *(int(subjects.search_sorted(subjects[k], side="left"))
                                       for k in range(_SLICE, events.height, _SLICE))})
    return [events.slice(a, b - a) for a, b in itertools.pairwise(cuts) if b > a]


def _fold_part(events: pl.DataFrame, retracted: pl.DataFrame, end_us: int) -> Fold:
    """``fold_at`` of whole histories."""
    applied = _applied(events, retracted, end_us)
    folded, held = _folded(applied)
    return Fold(_statuses(events, applied, folded, end_us), _contradictions(applied, held))


def statuses_at(events: pl.DataFrame, retracted: pl.DataFrame, end_us: int) -> pl.DataFrame:
    """``agency_id``, ``subject_id``, ``status`` (index into STATUSES) of each subject with an event before
    ``end_us``, as ``statemachine.derive`` would give it for that history."""
    return fold_at(events, retracted, end_us).statuses


def contradictions_at(events: pl.DataFrame, retracted: pl.DataFrame, end_us: int) -> pl.DataFrame:
    """The unretracted events before ``end_us`` that the state machine holds because they cannot follow the
    events before them (``statemachine.replay``): ``id``, ``agency_id``, ``subject_id``, ``occurred_us``."""
    return fold_at(events, retracted, end_us).contradictions


def _statuses(events: pl.DataFrame, applied: pl.DataFrame, folded: pl.DataFrame, end_us: int) -> pl.DataFrame:
    before = events.lazy().filter(pl.col("occurred_us") < end_us).select("agency_id", "subject_id").collect()
    if _one_agency_each(before):
        # Ordered by subject: a subject's answer is on its last row, found by comparing neighbours (no grouping).
        last = ~(pl.col("subject_id") == pl.col("subject_id").shift(-1)).fill_null(False)
        known = before.filter(last).select("agency_id", "subject_id")
        targets = (applied.select("subject_id", target=_target()).drop_nulls("target").filter(last)
                   .select("subject_id", "target"))
        closed_form = known.join(targets, on="subject_id", how="left")
    else:
        targets = (applied.with_columns(target=_target()).group_by("agency_id", "subject_id")
                   .agg(pl.col("target").drop_nulls().last()))
        known = before.select("agency_id", "subject_id").unique()
        closed_form = known.join(targets, on=["agency_id", "subject_id"], how="left")
    closed_form = closed_form.select("agency_id", "subject_id",
                                     status=pl.col("target").fill_null(UNKNOWN).cast(pl.Int8))
    return (closed_form.join(folded.select("subject_id", folded="status"), on="subject_id", how="left")
            .select("agency_id", "subject_id", status=pl.coalesce("folded", "status").cast(pl.Int8)))


def _one_agency_each(events: pl.DataFrame) -> bool:
    """Whether every subject's events (``events`` ordered by subject) name one agency, as ingest makes them."""
    changes = (pl.col("subject_id") == pl.col("subject_id").shift(1)) & (
        pl.col("agency_id") != pl.col("agency_id").shift(1))
    return not events.select(changes.any()).item()


_PAIR = 64  # more statuses than this would need a wider key


def _allowed_pairs() -> list[int]:
    """(type, status before) pairs the state machine allows, each as ``type * _PAIR + status``."""
    return [TYPES.index(t) * _PAIR + STATUSES.index(s) for t, froms in ALLOWED_FROM.items() for s in froms]


def _contradictions(applied: pl.DataFrame, held: list[int]) -> pl.DataFrame:
    return applied.filter(pl.col("id").is_in(held)).select("id", "agency_id", "subject_id", "occurred_us")


def _first_refusals(applied: pl.DataFrame) -> pl.DataFrame:
    """Events the closed form would find refused (the transition check against the state after every
    event before it): empty for a subject exactly when the state machine holds none of its events."""
    kind = pl.col("type")
    moves = ~kind.is_in([CORRECTION, *HEARINGS])
    after = pl.when(kind == TRANSFERRED).then(pl.col("to_facility_id")).otherwise(pl.col("facility_id"))
    before = _previous(_target()).fill_null(UNKNOWN).cast(pl.Int16)
    at_facility = _previous(pl.when(moves).then(after))
    allowed = (kind.cast(pl.Int16) * _PAIR + before).is_in(_allowed_pairs())
    wrong_place = (kind == TRANSFERRED) & at_facility.is_not_null() & (at_facility != pl.col("facility_id"))
    # Lazily, so that only the refused events are ever materialised.
    return applied.lazy().filter(~allowed | wrong_place).collect()


_SAME_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)  # the frame is ordered already: positions carry the order


def _folded(applied: pl.DataFrame) -> tuple[pl.DataFrame, list[int]]:
    """``subject_id``, ``status`` of the subjects whose histories hold an event, folded by the state
    machine itself, and the ids of the events it holds."""
    troubled = _first_refusals(applied).get_column("subject_id").unique().to_list()
    rows = applied.filter(pl.col("subject_id").is_in(troubled) & (pl.col("type") != CORRECTION))
    statuses: list[tuple[int, int]] = []
    held: list[int] = []
    for (subject,), history in rows.group_by("subject_id", maintain_order=True):
        facts = [statemachine.EventFacts(
            event_id=f"{position:010d}", type=TYPES[row["type"]], occurred_at=_SAME_INSTANT, seq=row["id"],
            facility_code=_code(row["facility_id"]), to_facility_code=_code(row["to_facility_id"]) or None,
        ) for position, row in enumerate(history.iter_rows(named=True))]
        replayed = statemachine.replay(facts)
        statuses.append((int(subject), STATUSES.index(replayed.state.status)))
        held.extend(f.seq for f in facts if f.event_id in replayed.held)
    frame = pl.DataFrame(statuses, schema={"subject_id": pl.Int32, "status": pl.Int8}, orient="row")
    return frame, held


def _code(facility_id: int | None) -> str:
    return "" if facility_id is None else str(facility_id)
