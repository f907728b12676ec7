"""A quarter's tables and data-quality checks, computed from the fact tables with polars.

Every table is a matrix of counts that goes through ``vinex.policy.suppression.suppress`` before anything
sees it; ``Computed.tables`` holds only what may be published, in report.json's shape.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import polars as pl
from django.conf import settings
from django.db import connections

from vinex.custody.models import CustodyStatus, EventType
from vinex.notify.models import Channel, CreatedVia, NotificationStatus, Tier
from vinex.policy.suppression import THRESHOLD, suppress
from vinex.reports import facts, history
from vinex.reports.quarter import Quarter

LATE_HOURS = 24
_HOUR_US = 3_600_000_000
PERCENTILES = (50, 90, 99)

TITLES = {
    "events_by_agency_type": "Custody events by agency and type",
    "notifications_by_channel_status": "Notifications by channel and final status",
    "registrations_by_channel_tier": "Subscriptions by how they were made and tier",
    "people_by_agency_status": "People by agency and custody status at the end of the quarter",
    "data_quality_by_agency": "Data quality by agency",
    "delivery_latency_by_agency": "Delivery latency by agency (milliseconds from event received to hand-over)",
    "privacy_by_agency": "Privacy safeguards by agency",
}
QUALITY_COLUMNS = ["events_rejected", "events_late", "corrections", "snapshots_quarantined", "stale_feed_hours"]
CHECK_COLUMNS = ["events_rejected", "events_before_booking", "contradictory_subjects", "stale_feed_hours",
                 "events_late"]
LATENCY_COLUMNS = ["n", *(f"p{p}_ms" for p in PERCENTILES)]
PRIVACY_COLUMNS = ["sharing_denials", "registrations_held", "data_reports", "contact_purges"]
EVENT_COLUMNS = [t for t in EventType.values if t != EventType.CORRECTION]


@dataclass(frozen=True)
class Computed:
    quarter: Quarter
    tables: dict[str, dict[str, Any]]
    quality: dict[str, Any]
    input_hash: str
    facilities: dict[str, int]  # facilities per agency code, for feed uptime


def published_table(title: str, rows: Sequence[str], columns: Sequence[str],
                    matrix: Sequence[Sequence[int]]) -> dict[str, Any]:
    """A table of counts as report.json publishes it: suppressed by the one rule."""
    if not rows:  # no agency yet: an empty table, its totals zero
        return {"title": title, "rows": [], "columns": list(columns), "values": [], "suppressed": [],
                "row_totals": [], "column_totals": [0] * len(columns), "total": 0}
    table = suppress(matrix, threshold=THRESHOLD)
    return {"title": title, "rows": list(rows), "columns": list(columns), "values": table.values,
            "suppressed": table.marks, "row_totals": table.row_totals, "column_totals": table.column_totals,
            "total": table.total}


def _matrix(counts: pl.DataFrame, row: str, column: str, rows: Sequence[str],
            columns: Sequence[str]) -> list[list[int]]:
    """A dense matrix from (row, column, n) counts; keys outside ``rows``/``columns`` are an error."""
    found = {(r, c): int(n) for r, c, n in counts.select(row, column, "n").iter_rows()}
    unknown = {k for k in found if k[0] not in rows or k[1] not in columns}
    if unknown:
        raise ValueError(f"counts outside the table: {sorted(unknown)[:3]}")
    return [[found.get((r, c), 0) for c in columns] for r in rows]


def _by_agency(agencies: pl.DataFrame, columns: dict[str, pl.DataFrame]) -> list[list[int]]:
    """Columns of per-agency counts (``agency_id``, ``n``) side by side, one row per agency."""
    joined = agencies.select("agency_id")
    for name, counts in columns.items():
        joined = joined.join(counts.select("agency_id", pl.col("n").alias(name)), on="agency_id", how="left")
    return [[int(v or 0) for v in row] for row in joined.select(list(columns)).iter_rows()]


def _wide_ids(counts: pl.DataFrame) -> pl.DataFrame:
    """Counts keyed by the events frame's 32-bit agency ids, joinable with the agencies (64-bit ids)."""
    return counts.with_columns(pl.col("agency_id").cast(pl.Int64))


def _per_agency(rows: pl.LazyFrame) -> pl.DataFrame:
    """How many of ``rows`` each agency has (``agency_id``, ``n``), agencies without any left out (counted by the
    streaming engine, which never holds the rows themselves)."""
    return rows.group_by("agency_id").agg(pl.len().cast(pl.Int64).alias("n")).with_columns(
        pl.col("agency_id").cast(pl.Int64)).collect(engine="streaming")


def _keys(values: Sequence[str], found: pl.Series) -> list[str]:
    """The known values in their declared order, then any other value the data holds, sorted."""
    extra = sorted(set(found.to_list()) - set(values))
    return [*values, *extra]


_HASH_SLICE = 1_000_000


class _Digest:
    """A digest of frames' rows, whatever order they were read in: each frame's column names and types, its number
    of rows, and the sum and the exclusive or of its rows' hashes (polars' row hash with fixed seeds, the same for
    the same values on every run of one polars version), so that no frame of millions is sorted. Frames are added
    as soon as they are read, so that a large one can be let go of early."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()

    def add(self, *frames: pl.DataFrame) -> None:
        for part in frames:
            count, total, either = 0, np.uint64(0), np.uint64(0)
            for piece in part.iter_slices(_HASH_SLICE):  # a slice at a time: hashing may copy what it hashes
                rows = piece.hash_rows(seed=17, seed_1=29, seed_2=41, seed_3=53).to_numpy()
                count += len(rows)
                total = np.add.reduce(rows, dtype=np.uint64, initial=total)
                either = np.bitwise_xor.reduce(rows, initial=either)
            self._sha.update(repr(part.schema).encode())
            self._sha.update(np.array([count, total, either], dtype=np.uint64).tobytes())

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def report_compute(*, quarter: Quarter) -> Computed:
    """Every table of the quarter's report, suppressed, and the data-quality checks.

    At ten million events and notifications memory is the constraint: what is derived from the large frames is
    derived as soon as they are read, and their columns are let go of once nothing reads them any more.
    """
    window = facts.Window(quarter.start, quarter.end)
    start_us, end_us = (int(t.timestamp()) * 1_000_000 for t in (quarter.start, quarter.end))
    agencies = facts.agencies()
    codes = agencies["agency"].to_list()
    with ThreadPoolExecutor(1) as pool:
        # The two large reads overlap (the columnar reader lets go of the interpreter while it reads); a read
        # through Django's cursor must stay on this thread, whose connection may hold uncommitted rows.
        later = pool.submit(_on_own_connection, facts.notifications, window) if facts.columnar() else None
        events = facts.events()  # in history order
        notifications = later.result() if later is not None else facts.notifications(window)
    digest = _Digest()
    by_outcome = notifications.outcomes
    # The notifications by what the tables count: outcomes, and when each was handed over for what event.
    digest.add(agencies, events, by_outcome, notifications.handed_over)
    latency_table = _latency_table(agencies, _latencies(notifications.handed_over, events))
    del notifications
    received = pl.col("received_us").is_between(start_us, end_us, closed="left")
    late = _per_agency(events.lazy().filter(received & (pl.col("received_us") - pl.col("occurred_us")
                                                        > LATE_HOURS * _HOUR_US)))
    corrections = _per_agency(events.lazy().filter(received & (pl.col("type") == history.CORRECTION)))
    retracted = history.retractions(events)
    for name in ("received_us", "corrects_id", "names_target"):
        # In place: ``drop`` runs a query over the frame, which first copies a frame in pieces into one.
        events.drop_in_place(name)
    folded = history.fold_at(events, retracted, end_us)
    # Lazy: each use filters the events again (cheap) instead of keeping a copy of millions of rows.
    in_quarter = events.lazy().filter(pl.col("occurred_us").is_between(start_us, end_us, closed="left")).select(
        "id", "agency_id", "subject_id", "type", "occurred_us")

    loaded: dict[str, pl.DataFrame] = {
        "subscriptions": facts.subscriptions(window), "rejections": facts.rejections(window),
        "late": late, "corrections": corrections,
        "snapshots": facts.snapshots_held(window), "silences": facts.feed_silences(window),
        "denials": facts.denials(window), "held": facts.registrations_held(window),
        "data_reports": facts.data_reports(window), "purges": facts.contact_purges(window),
        "facilities": facts.facilities(),
    }
    digest.add(*loaded.values())
    stale = _stale_hours(loaded["silences"], start_us, end_us)
    tables = {
        "events_by_agency_type": _events_table(agencies, in_quarter, retracted),
        "notifications_by_channel_status": _notifications_table(by_outcome),
        "registrations_by_channel_tier": _registrations_table(loaded["subscriptions"]),
        "people_by_agency_status": _people_table(agencies, folded.statuses),
        "data_quality_by_agency": published_table(TITLES["data_quality_by_agency"], codes, QUALITY_COLUMNS,
                                                  _by_agency(agencies, {
                                                      "events_rejected": loaded["rejections"],
                                                      "events_late": loaded["late"],
                                                      "corrections": loaded["corrections"],
                                                      "snapshots_quarantined": loaded["snapshots"],
                                                      "stale_feed_hours": stale})),
        "delivery_latency_by_agency": latency_table,
        "privacy_by_agency": published_table(TITLES["privacy_by_agency"], codes, PRIVACY_COLUMNS, _by_agency(
            agencies, {"sharing_denials": loaded["denials"], "registrations_held": loaded["held"],
                       "data_reports": loaded["data_reports"], "contact_purges": loaded["purges"]})),
    }
    quality = _quality(agencies, events, folded.contradictions, in_quarter, loaded, stale, quarter)
    facilities = dict(zip(codes, (row[0] for row in _by_agency(agencies, {"n": loaded["facilities"]})), strict=True))
    return Computed(quarter, tables, quality, digest.hexdigest(), facilities)


def _on_own_connection(read: Callable[[facts.Window], facts.Notifications],
                       window: facts.Window) -> facts.Notifications:
    """``read(window)`` on a worker thread, closing the database connection the thread opened."""
    try:
        return read(window)
    finally:
        connections.close_all()


class _Latencies(NamedTuple):
    """Delivery latency per agency (``agency_id``, ``n``, ``p50``, ``p90``, ``p99``; agencies without any left
    out) and over every agency (the percentiles, None when nothing was handed over)."""

    per_agency: pl.DataFrame
    overall: tuple[int | None, ...]


def _latencies(handed_over: pl.DataFrame, events: pl.DataFrame) -> _Latencies:
    """For the notifications handed to their provider, the whole milliseconds (rounded toward zero) from the
    event's arrival to the hand-over, by the event's agency: its count and percentiles by nearest rank.

    Each latency becomes one integer key, agency and milliseconds (``_KEY_SHIFT``), written into one array: the
    keys sorted in place give every percentile, so that no more than that array and a slice's worth of
    columns is ever held (a frame per agency sorted by polars took several times that at ten million)."""
    where = _event_rows(events)
    if where is None:
        return _latencies_joined(handed_over, events)
    keys = np.empty(handed_over.height, dtype=np.int64)
    filled = 0
    for piece in handed_over.iter_slices(_HASH_SLICE):
        sent = piece.drop_nulls()
        ids = sent.get_column("event_id").to_numpy()
        rows = np.full(len(ids), -1, dtype=np.int32)
        inside = ids < len(where)
        rows[inside] = where[ids[inside]]
        known = rows >= 0
        found = rows[known]
        micros = sent.get_column("sent_us").to_numpy()[known] - events.get_column("received_us").gather(
            found).to_numpy()
        # Toward zero: a negative interval (a clock ahead) counts its whole milliseconds too.
        ms = np.abs(micros) // 1000
        np.negative(ms, out=ms, where=micros < 0)
        part = _latency_keys(events.get_column("agency_id").gather(found).to_numpy(), ms)
        if part is None:
            return _latencies_joined(handed_over, events)  # beyond what a key holds: frames instead
        keys[filled:filled + len(part)] = part
        filled += len(part)
    return _percentiles(keys[:filled])


def _latency_keys(agency: np.ndarray, ms: np.ndarray) -> np.ndarray | None:
    """The keys of latencies ``ms`` of ``agency`` (aligned arrays), or None if one is out of a key's range."""
    if len(ms) and (int(agency.min()) < 0 or int(agency.max()) >= 2**(62 - _KEY_SHIFT)
                    or int(np.abs(ms).max()) >= 2**(_KEY_SHIFT - 1)):
        return None
    keys = agency.astype(np.int64)
    keys <<= _KEY_SHIFT
    keys += ms
    keys += 2**(_KEY_SHIFT - 1)
    return keys


# A key is agency_id * 2**_KEY_SHIFT + milliseconds + 2**(_KEY_SHIFT - 1): latencies of up to 2**41 ms (seventy
# years) either way, agency ids below 2**20, and the keys' order is by agency, then latency.
_KEY_SHIFT = 42


def _ranks(n: int) -> list[int]:
    # The p-th percentile by nearest rank: the smallest value with at least p% of the values at or below it
    # (integer arithmetic, so 90% of 10 is rank 9 exactly); as positions in the sorted values.
    return [(n * p + 99) // 100 - 1 for p in PERCENTILES]


_NO_LATENCY = pl.DataFrame(schema={"agency_id": pl.Int64, "n": pl.Int64, **{f"p{p}": pl.Int64 for p in PERCENTILES}})


def _percentiles(keys: np.ndarray) -> _Latencies:
    """Counts and percentiles per agency and over all agencies of latency ``keys`` (sorted here, in place)."""
    if not len(keys):
        return _Latencies(_NO_LATENCY, (None,) * len(PERCENTILES))
    keys.sort()
    offset = 2**(_KEY_SHIFT - 1)
    rows, segments = [], []
    start = 0
    while start < len(keys):
        owner = int(keys[start]) >> _KEY_SHIFT
        end = int(np.searchsorted(keys, (owner + 1) << _KEY_SHIFT, side="left"))
        base = (owner << _KEY_SHIFT) + offset
        rows.append((owner, end - start, *(int(keys[start + k]) - base for k in _ranks(end - start))))
        segments.append((keys[start:end], base))
        start = end
    overall = tuple(_kth(segments, k) for k in _ranks(len(keys)))
    return _Latencies(pl.DataFrame(rows, schema=_NO_LATENCY.schema, orient="row"), overall)


def _kth(segments: list[tuple[np.ndarray, int]], k: int) -> int:
    """The ``k``-th smallest latency (from 0) of the agencies' sorted ``segments`` of keys together: the
    smallest latency with more than ``k`` at or below it, found by halving the range of latencies."""
    low = min(int(keys[0]) - base for keys, base in segments)
    high = max(int(keys[-1]) - base for keys, base in segments)
    while low < high:
        middle = (low + high) // 2
        at_or_below = sum(int(np.searchsorted(keys, middle + base, side="right")) for keys, base in segments)
        if at_or_below > k:
            high = middle
        else:
            low = middle + 1
    return low


def _latencies_grouped(latencies: pl.DataFrame) -> _Latencies:
    """``_percentiles`` of a frame of ``agency_id`` and ``ms``, grouped by polars."""
    stats = latencies.group_by("agency_id").agg(pl.len().cast(pl.Int64).alias("n"), *(
        _nearest_rank(p).alias(f"p{p}") for p in PERCENTILES))
    overall = (latencies.select(*(_nearest_rank(p).alias(f"p{p}") for p in PERCENTILES)).row(0)
               if latencies.height else (None,) * len(PERCENTILES))
    return _Latencies(stats, tuple(overall))


def _latencies_joined(handed_over: pl.DataFrame, events: pl.DataFrame) -> _Latencies:
    """``_latencies`` by a join, for event ids too sparse for ``_event_rows``."""
    micros = pl.col("sent_us") - pl.col("received_us")
    shape = [pl.col("agency_id").cast(pl.Int64), pl.when(micros >= 0).then(micros // 1000)
             .otherwise(-((-micros) // 1000)).alias("ms")]
    joined = handed_over.drop_nulls().lazy().join(
        events.lazy().select(event_id="id", agency_id="agency_id", received_us="received_us"), on="event_id",
    ).select(shape).collect(engine="streaming")
    return _latencies_grouped(joined)


def _event_rows(events: pl.DataFrame) -> np.ndarray | None:
    """An array giving, at each event id, the event's row in ``events`` (-1 where there is none): far less
    memory than a join's hash table over millions of events. None when the ids are too sparse for it."""
    if events.is_empty():
        return np.full(1, -1, dtype=np.int32)
    event_ids = events.get_column("id").to_numpy()
    top = int(event_ids.max())
    if top > 4 * events.height + 1_000_000 or int(event_ids.min()) < 0:
        return None
    where = np.full(top + 1, -1, dtype=np.int32)
    where[event_ids] = np.arange(events.height, dtype=np.int32)
    return where


def _events_table(agencies: pl.DataFrame, in_quarter: pl.LazyFrame, retracted: pl.DataFrame) -> dict[str, Any]:
    kept = in_quarter.filter((pl.col("type") != history.CORRECTION)
                             & ~pl.col("id").is_in(retracted.get_column("target_id").implode()))
    counts = (_wide_ids(kept.group_by("agency_id", "type").len("n").collect(engine="streaming"))
              .join(agencies, on="agency_id")
              .with_columns(type=pl.col("type").map_elements(lambda i: history.TYPES[i], return_dtype=pl.String)))
    codes = agencies["agency"].to_list()
    return published_table(TITLES["events_by_agency_type"], codes, EVENT_COLUMNS,
                           _matrix(counts, "agency", "type", codes, EVENT_COLUMNS))


def _notifications_table(counts: pl.DataFrame) -> dict[str, Any]:
    rows = _keys(Channel.values, counts["channel"])
    columns = _keys(NotificationStatus.values, counts["status"])
    return published_table(TITLES["notifications_by_channel_status"], rows, columns,
                           _matrix(counts, "channel", "status", rows, columns))


def _registrations_table(counts: pl.DataFrame) -> dict[str, Any]:
    rows = _keys(CreatedVia.values, counts["created_via"])
    columns = _keys(Tier.values, counts["tier"])
    return published_table(TITLES["registrations_by_channel_tier"], rows, columns,
                           _matrix(counts, "created_via", "tier", rows, columns))


def _people_table(agencies: pl.DataFrame, statuses: pl.DataFrame) -> dict[str, Any]:
    counts = (_wide_ids(statuses.group_by("agency_id", "status").len("n")).join(agencies, on="agency_id")
              .with_columns(status=pl.col("status").map_elements(lambda i: history.STATUSES[i],
                                                                  return_dtype=pl.String)))
    codes = agencies["agency"].to_list()
    columns = list(CustodyStatus.values)
    return published_table(TITLES["people_by_agency_status"], codes, columns,
                           _matrix(counts, "agency", "status", codes, columns))


def _nearest_rank(p: int) -> pl.Expr:
    # The p-th percentile by nearest rank: the smallest value with at least p% of the values at or below it
    # (integer arithmetic, so 90% of 10 is rank 9 exactly).
    return pl.col("ms").sort().get((pl.len() * p + 99) // 100 - 1)


def _latency_table(agencies: pl.DataFrame, latencies: _Latencies) -> dict[str, Any]:
    """n and percentiles per agency. The n column goes through the suppression rule like any count; a row
    whose n is withheld (or is zero) shows no percentile, so nobody learns about fewer than 11 messages."""
    joined = agencies.join(latencies.per_agency, on="agency_id", how="left").with_columns(pl.col("n").fill_null(0))
    codes = agencies["agency"].to_list()
    title = TITLES["delivery_latency_by_agency"]
    if not codes:
        return published_table(title, [], LATENCY_COLUMNS, [])
    n_column = suppress([[int(n)] for n in joined["n"]], threshold=THRESHOLD)
    values: list[list[int | None]] = []
    marks: list[list[str]] = []
    for (n,), (mark,), row in zip(n_column.values, n_column.marks, joined.iter_rows(named=True), strict=True):
        shown = n is not None and n > 0
        values.append([n, *((int(row[f"p{p}"]) if shown else None) for p in PERCENTILES)])
        marks.append([mark, *([mark] * len(PERCENTILES))])
    overall = latencies.overall
    total = n_column.total
    column_totals = [total, *((int(v) if total and v is not None else None) for v in overall)]
    return {"title": title, "rows": codes, "columns": LATENCY_COLUMNS, "values": values, "suppressed": marks,
            # A row's n, p50, p90 and p99 do not add up: there is no row total.
            "row_totals": [None] * len(codes), "column_totals": column_totals, "total": total}


def _stale_hours(silences: pl.DataFrame, start_us: int, end_us: int) -> pl.DataFrame:
    """Whole hours of the quarter each agency's feeds spent silent (alert open: from the last delivery before
    it to the next delivery, or the end of the quarter), per agency."""
    resumed = pl.min_horizontal("next_event_us", "next_snapshot_us").fill_null(end_us)
    overlap = (pl.min_horizontal(resumed, pl.lit(end_us)) - pl.max_horizontal("since_us", pl.lit(start_us))).clip(0)
    return (silences.with_columns(us=overlap).group_by("agency_id")
            .agg((pl.col("us").sum() // 3_600_000_000).alias("n")))


def _quality(agencies: pl.DataFrame, events: pl.DataFrame, contradictions: pl.DataFrame, in_quarter: pl.LazyFrame,
             loaded: dict[str, pl.DataFrame], stale: pl.DataFrame, quarter: Quarter) -> dict[str, Any]:
    """The checks before publishing: counts per agency (suppressed like any table) and the verdict."""
    first_booking = (events.lazy().filter(pl.col("type") == history.BOOKED).group_by("subject_id")
                     .agg(pl.col("occurred_us").min().alias("booked_us")))
    before_booking = _wide_ids(in_quarter.join(first_booking, on="subject_id")
                               .filter(pl.col("occurred_us") < pl.col("booked_us")).group_by("agency_id").len("n")
                               .collect(engine="streaming"))
    in_quarter_subjects = in_quarter.select("subject_id").unique().collect(engine="streaming").get_column("subject_id")
    contradictory = _wide_ids(contradictions
                              .filter(pl.col("subject_id").is_in(in_quarter_subjects.implode()))
                              .group_by("agency_id").agg(pl.col("subject_id").n_unique().alias("n")))
    in_quarter_count = in_quarter.select(pl.len()).collect().item()
    columns = {"events_rejected": loaded["rejections"], "events_before_booking": before_booking,
               "contradictory_subjects": contradictory, "stale_feed_hours": stale, "events_late": loaded["late"]}
    matrix = _by_agency(agencies, columns)
    sums = [sum(row[j] for row in matrix) for j in range(len(CHECK_COLUMNS))]
    received = in_quarter_count + sums[0]
    problems = sums[0] + sums[1] + sums[4]
    problem_share = problems / received if received else 0.0
    facility_hours = int(loaded["facilities"]["n"].sum() or 0) * quarter.hours
    stale_share = sums[3] / facility_hours if facility_hours else 0.0
    reasons = []
    if problem_share > settings.VINEX_REPORT_MAX_PROBLEM_SHARE:
        reasons.append(f"{problem_share:.1%} of the quarter's events failed a check (the limit is "
                       f"{settings.VINEX_REPORT_MAX_PROBLEM_SHARE:.1%})")
    if stale_share > settings.VINEX_REPORT_MAX_STALE_SHARE:
        reasons.append(f"feeds were stale for {stale_share:.1%} of the facility-hours (the limit is "
                       f"{settings.VINEX_REPORT_MAX_STALE_SHARE:.1%})")
    codes = agencies["agency"].to_list()
    return {
        "publishable": not reasons,
        "reasons": reasons,
        # Shares of the whole quarter, rounded: large aggregates that identify nobody.
        "problem_share": round(problem_share, 2),
        "stale_share": round(stale_share, 2),
        "checks": published_table("Data-quality checks by agency", codes, CHECK_COLUMNS, matrix),
    }
