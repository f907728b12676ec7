"""The custody state machine's answers for every subject at once, as polars expressions.

``vinex.custody.statemachine.derive`` folds one history at a time; a report needs millions. The fold has
a closed form that this module computes per subject over the ordered events (``occurred_at``, then
arrival ``id``), and ``tests/reports/test_history.py`` checks it against ``derive`` on random histories:

- an event is *retracted* when a CORRECTION names it, or when a CORRECTION that names nothing follows it
  as the last event before it that is neither a hearing nor a correction (``statemachine.corrected_ids``);
- ``apply`` sets the status to ``TARGET_STATUS[type]`` for every event with a target and keeps it for the
  rest, so the status after a history is the target of its last unretracted event with a target
  (``UNKNOWN`` when there is none);
- the facility of the state is set by every unretracted event that is neither a hearing nor a correction
  (the destination of a TRANSFERRED, the event's facility otherwise).

The frame of events has the columns of ``EVENT_SCHEMA``: times in microseconds since the epoch (UTC) and
the type as its index in ``TYPES``, which keeps ten million rows small.
"""

from __future__ import annotations

import polars as pl

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
}

_ORDER = ["subject_id", "occurred_us", "id"]


def ordered(events: pl.DataFrame) -> pl.DataFrame:
    """The events in each subject's history order."""
    return events.sort(_ORDER)


def retractions(events: pl.DataFrame) -> pl.DataFrame:
    """``target_id`` and ``by_us`` (when the retracting CORRECTION occurred), one row per retraction.

    ``events`` must be ``ordered``.
    """
    kind = pl.col("type")
    custody = ~kind.is_in([CORRECTION, *HEARINGS])
    previous = pl.when(custody).then(pl.col("id")).forward_fill().shift(1).over("subject_id")
    corrections = events.with_columns(previous=previous).filter(kind == CORRECTION)
    target = pl.when(pl.col("names_target")).then(pl.col("corrects_id")).otherwise(pl.col("previous"))
    return (corrections.select(target_id=target, by_us=pl.col("occurred_us"))
            .drop_nulls("target_id").group_by("target_id").agg(pl.col("by_us").min()))


def _applied(events: pl.DataFrame, retracted: pl.DataFrame, end_us: int) -> pl.DataFrame:
    """The history up to ``end_us`` with the events retracted within it left out (in order)."""
    before = events.filter(pl.col("occurred_us") < end_us)
    gone = retracted.filter(pl.col("by_us") < end_us).select(id=pl.col("target_id"))
    return before.join(gone, on="id", how="anti", maintain_order="left")


def _target() -> pl.Expr:
    return pl.col("type").replace_strict(TARGETS, default=None, return_dtype=pl.Int8)


def statuses_at(events: pl.DataFrame, retracted: pl.DataFrame, end_us: int) -> pl.DataFrame:
    """``agency_id``, ``subject_id``, ``status`` (index into STATUSES) of each subject with an event before
    ``end_us``, as ``derive`` would give it for that history."""
    applied = _applied(events, retracted, end_us)
    last = (applied.with_columns(target=_target()).group_by("agency_id", "subject_id")
            .agg(pl.col("target").drop_nulls().last()))
    known = events.filter(pl.col("occurred_us") < end_us).select("agency_id", "subject_id").unique()
    return (known.join(last, on=["agency_id", "subject_id"], how="left")
            .select("agency_id", "subject_id", status=pl.col("target").fill_null(UNKNOWN).cast(pl.Int8)))


def _allowed() -> pl.DataFrame:
    pairs = [(TYPES.index(t), STATUSES.index(s)) for t, froms in ALLOWED_FROM.items() for s in froms]
    return pl.DataFrame(pairs, schema={"type": pl.Int8, "before": pl.Int8}, orient="row").with_columns(
        allowed=pl.lit(True))


def contradictions_at(events: pl.DataFrame, retracted: pl.DataFrame, end_us: int) -> pl.DataFrame:
    """The unretracted events before ``end_us`` that the state machine would refuse after the events before
    them (``statemachine.transition_error``): ``id``, ``agency_id``, ``subject_id``, ``occurred_us``."""
    applied = _applied(events, retracted, end_us)
    kind = pl.col("type")
    moves = ~kind.is_in([CORRECTION, *HEARINGS])
    after = pl.when(kind == TRANSFERRED).then(pl.col("to_facility_id")).otherwise(pl.col("facility_id"))
    with_state = applied.with_columns(
        before=_target().forward_fill().shift(1).over("subject_id").fill_null(UNKNOWN),
        at_facility=pl.when(moves).then(after).forward_fill().shift(1).over("subject_id"),
    )
    checked = with_state.join(_allowed(), on=["type", "before"], how="left")
    wrong_place = (kind == TRANSFERRED) & pl.col("at_facility").is_not_null() & (
        pl.col("at_facility") != pl.col("facility_id"))
    return checked.filter(pl.col("allowed").is_null() | wrong_place).select(
        "id", "agency_id", "subject_id", "occurred_us")
