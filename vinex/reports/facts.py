"""The fact tables a quarterly report is computed from, read from the database into polars.

One plain SQL statement per fact, with table and column names taken from the models; SQLite and
PostgreSQL differ only in how an instant becomes microseconds since the epoch (``_micros``). Counts that
are a plain filter-and-group are grouped by the database; what needs a history (custody status at the end
of the quarter, retracted events, contradictions) reads the narrow events frame of ``history.EVENT_SCHEMA``.
The statements are built from model metadata and fixed text only; every value is a query parameter (put in
as a literal of our own values when the columnar reader, which takes no parameters, reads them).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

import polars as pl
from django.db import connection
from django.db.models import Model

from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency, CustodyEvent, Facility, Subject
from vinex.feeds.models import FeedAlert, Snapshot, SnapshotStatus
from vinex.notify.models import Contact, Notification, Subscription
from vinex.privacy.models import DataReport, DisclosureDenial
from vinex.registrations.models import Registration, RegistrationStatus
from vinex.reports.history import EVENT_SCHEMA, TYPES
from vinex.reports.models import EventRejection

_BATCH = 200_000
# Stands for null in a computed column: a columnar reader infers the column's type from its first value.
_NONE = -1


def _t(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _c(model: type[Model], field: str) -> str:
    column = model._meta.get_field(field).column  # type: ignore[union-attr]
    assert column is not None
    return connection.ops.quote_name(column)


def _micros(expression: str) -> str:
    """SQL for an instant as integer microseconds since 1970 (UTC), exactly."""
    if connection.vendor == "sqlite":
        # Django stores "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC: whole seconds, then the six fraction digits
        # ("%%" is a percent sign once the statement's parameters are put in).
        return (f"(CAST(strftime('%%s', {expression}) AS INTEGER) * 1000000"
                f" + COALESCE(CAST(NULLIF(substr({expression}, 21, 6), '') AS INTEGER), 0))")
    return f"CAST(EXTRACT(EPOCH FROM {expression}) * 1000000 AS BIGINT)"


def _param(moment: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(moment)


# A column read as an instant (a plain reference to a date-time column, no expression around it): both
# readers parse it themselves, far faster than SQL turning text into numbers, and ``frame`` gives it as
# integer microseconds since 1970 (UTC).
INSTANT = pl.Datetime("us")


def frame(sql: str, params: Sequence[Any], schema: dict[str, Any], *, uri: str | None = None) -> pl.DataFrame:
    """The rows of ``sql`` as a frame with ``schema``'s names and types (``INSTANT`` columns as Int64 µs).

    Read column by column (connectorx, on its own connection) where that connection sees the same rows;
    otherwise fetched through Django's cursor in batches, so that Python never holds them all as tuples.
    """
    uri = uri or _columnar_uri()
    if uri is not None:
        query = _inline(sql, params)
        if connection.vendor == "postgresql":  # unnamed columns may share a name ("coalesce"): name them all
            query = f"SELECT * FROM ({query}) AS q({', '.join(schema)})"  # noqa: S608 - our names
        read = pl.read_database_uri(query, uri, engine="connectorx")
        return read.select(_typed(pl.col(column), dtype).alias(name)
                           for column, (name, dtype) in zip(read.columns, schema.items(), strict=True))
    parts: list[pl.DataFrame] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        while rows := cursor.fetchmany(_BATCH):
            parts.append(pl.DataFrame(rows, schema=schema, orient="row").select(
                _typed(pl.col(name), dtype) for name, dtype in schema.items()))
    return pl.concat(parts) if parts else pl.DataFrame(schema=_schema(schema))


def _typed(column: pl.Expr, dtype: Any) -> pl.Expr:
    return column.dt.epoch("us") if dtype == INSTANT else column.cast(dtype)


def _schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {name: pl.Int64 if dtype == INSTANT else dtype for name, dtype in schema.items()}


def columnar() -> bool:
    """Whether this thread's reads go column by column, on connections of their own."""
    return _columnar_uri() is not None


def _columnar_uri() -> str | None:
    """Where a second connection reads the same database, or None: inside a transaction (uncommitted
    writes are this connection's alone) or for an in-memory SQLite database."""
    settings = connection.settings_dict
    if connection.in_atomic_block:
        return None
    if connection.vendor == "sqlite":
        name = str(settings["NAME"])
        if name == ":memory:" or "mode=memory" in name or name.startswith("file:"):
            return None
        return f"sqlite://{quote(str(Path(name).resolve()))}"
    if connection.vendor == "postgresql":
        user = quote(settings["USER"] or "", safe="")
        password = quote(settings["PASSWORD"] or "", safe="")
        credentials = f"{user}:{password}@" if user else ""
        port = f":{settings['PORT']}" if settings["PORT"] else ""
        return f"postgresql://{credentials}{settings['HOST'] or 'localhost'}{port}/{quote(settings['NAME'], safe='')}"
    return None


def _inline(sql: str, params: Sequence[Any]) -> str:
    """``sql`` with its ``%s`` placeholders replaced by literals (connectorx takes no parameters). The values
    are ours: instants, integers and model choices."""
    values = iter(params)

    def literal(match: re.Match[str]) -> str:
        if match.group() == "%%":
            return "%"
        value = next(values)
        if isinstance(value, bool) or not isinstance(value, int | str | datetime):
            raise TypeError(f"no literal for {type(value).__name__}")
        if isinstance(value, int):
            return str(value)
        text = value.isoformat(sep=" ") if isinstance(value, datetime) else value
        return "'" + text.replace("'", "''") + "'"

    inlined = re.sub(r"%%|%s", literal, sql)
    if next(values, None) is not None:
        raise ValueError("more parameters than placeholders")
    return inlined


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def params(self) -> list[Any]:
        return [_param(self.start), _param(self.end)]


def agencies() -> pl.DataFrame:
    """Every agency (``agency_id``, ``agency``: its code), in code order."""
    return frame(f"SELECT {_c(Agency, 'id')}, {_c(Agency, 'code')} FROM {_t(Agency)} ORDER BY 2", [],  # noqa: S608
                 {"agency_id": pl.Int64, "agency": pl.String})


# Rows are read in ranges of a key, each range made compact (narrow types) before the next is read, so that
# the reader's wide frame of a whole table never exists: ids per range, and subjects (a few events each).
_BATCH_IDS = 250_000
_BATCH_SUBJECTS = 62_500


def _trim() -> None:
    """Give the memory the columnar reader freed back to the system (glibc keeps it otherwise, and the peak
    of a report at ten million rows is what its memory budget is about)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def events() -> pl.DataFrame:
    """Every custody event as ``history.EVENT_SCHEMA`` (corrections with the id of the event they name) and
    ``received_us``, in history order (``history.ordered``): one read of the table for every count of events."""
    e, c = _t(CustodyEvent), "c"
    named = (f"(SELECT t.{_c(CustodyEvent, 'id')} FROM {e} t WHERE t.{_c(CustodyEvent, 'agency')} = "  # noqa: S608
             f"{c}.{_c(CustodyEvent, 'agency')} AND t.{_c(CustodyEvent, 'event_id')} = "
             f"{c}.{_c(CustodyEvent, 'corrects_event_id')} AND t.{_c(CustodyEvent, 'subject')} = "
             f"{c}.{_c(CustodyEvent, 'subject')})")
    kind = f"{c}.{_c(CustodyEvent, 'type')}"
    pk = f"{c}.{_c(CustodyEvent, 'id')}"
    subject = f"{c}.{_c(CustodyEvent, 'subject')}"
    sql = (f"SELECT {pk}, {c}.{_c(CustodyEvent, 'agency')}, "  # noqa: S608
           f"{c}.{_c(CustodyEvent, 'subject')}, {kind}, "
           f"{c}.{_c(CustodyEvent, 'occurred_at')}, {c}.{_c(CustodyEvent, 'facility')}, "
           f"{c}.{_c(CustodyEvent, 'to_facility')}, "
           f"COALESCE(CASE WHEN {kind} = 'CORRECTION' AND {c}.{_c(CustodyEvent, 'corrects_event_id')} <> '' "
           f"THEN {named} END, {_NONE}), "
           f"CASE WHEN {c}.{_c(CustodyEvent, 'corrects_event_id')} <> '' THEN 1 ELSE 0 END, "
           f"{c}.{_c(CustodyEvent, 'received_at')} "
           f"FROM {e} {c} WHERE {subject} >= %s AND {subject} < %s "
           # The order of the index on (subject, occurred_at, id): the database reads in history order.
           f"ORDER BY {subject}, {c}.{_c(CustodyEvent, 'occurred_at')}, {pk}")
    # The type as text, made its index in TYPES here (faster than a CASE per row); the tie is ranked after.
    read_as = {"type": pl.String, "occurred_us": INSTANT, "names_target": pl.Int8}
    schema = {**{k: read_as.get(k, v) for k, v in EVENT_SCHEMA.items() if k != "tie"}, "received_us": INSTANT}
    first, last = _range(CustodyEvent, "subject")
    # Each range is finished (typed, ordered, ties ranked) before the next is read: a history never spans two
    # ranges and the ranges follow each other, so the ranges in turn are the events in history order, and no
    # step over all of them holds more than a range's worth of memory besides the events themselves.
    parts = [_finished(frame(sql, [low, low + _BATCH_SUBJECTS], schema))
             for low in range(first, last + 1, _BATCH_SUBJECTS)]
    if not parts:
        return _finished(pl.DataFrame(schema=_schema(schema)))
    return pl.concat(parts, rechunk=False)


def _finished(read: pl.DataFrame) -> pl.DataFrame:
    """A range of events as read, as ``events`` gives them (in its order)."""
    _trim()
    return _with_ties(_sorted(read.with_columns(
        pl.col("type").replace_strict(_TYPE_INDEX, default=None, return_dtype=pl.Int8),
        pl.col("names_target").cast(pl.Boolean),
        corrects_id=pl.when(pl.col("corrects_id") != _NONE).then(pl.col("corrects_id")))))


_TYPE_INDEX = {t: i for i, t in enumerate(TYPES)}
_KEY = ("subject_id", "occurred_us", "id")


def _sorted(events: pl.DataFrame) -> pl.DataFrame:
    """``events`` ordered by subject, instant and id: as read when the database ordered them (checked, in one
    pass), sorted here otherwise (an instant stored in another text form, a database's own ordering)."""
    behind = pl.lit(False)
    for k in reversed(range(len(_KEY))):  # row < previous row, compared key by key
        column, previous = pl.col(_KEY[k]), pl.col(_KEY[k]).shift(1)
        behind = (column < previous) | ((column == previous) & behind)
    if not events.select(behind.fill_null(False).any()).item():
        return events
    return events.sort(*_KEY)


def _range(model: type[Model], field: str) -> tuple[int, int]:
    """The smallest and largest value of an indexed integer column (1, 0 when the table is empty), each asked
    alone: a database answers either from one end of the index, but may read all of it for both at once."""
    column = _c(model, field)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN({column}) FROM {_t(model)}")  # noqa: S608
        (low,) = cursor.fetchone()
        cursor.execute(f"SELECT MAX({column}) FROM {_t(model)}")  # noqa: S608
        (high,) = cursor.fetchone()
    return (1, 0) if low is None else (int(low), int(high))


def _with_ties(events: pl.DataFrame) -> pl.DataFrame:
    """``events`` (sorted by subject, instant, id) with ``tie``, each event's rank among its subject's events at
    the same instant by ``event_id`` (the state machine's order, ``statemachine.ORDER_KEY``), and in that order.

    Two events of one subject at one instant are rare: only their event ids are read, to rank them.
    """
    same = (pl.col("subject_id") == pl.col("subject_id").shift(1)) & (
        pl.col("occurred_us") == pl.col("occurred_us").shift(1))
    tied = events.select(tied=(same | same.shift(-1)).fill_null(False))["tied"]
    ids = events.filter(tied).get_column("id")
    if ids.is_empty():
        return events.with_columns(tie=pl.lit(1, pl.Int32)).select(*EVENT_SCHEMA, "received_us")
    names = pl.concat(_event_ids(ids[k:k + _ID_LIST].to_list()) for k in range(0, ids.len(), _ID_LIST))
    ranks = (events.filter(tied).select("id", "subject_id", "occurred_us").join(names, on="id")
             .select("id", tie=pl.col("event_id").rank("ordinal").over("subject_id", "occurred_us").cast(pl.Int32)))
    return (events.join(ranks, on="id", how="left", maintain_order="left")
            .with_columns(pl.col("tie").fill_null(1)).select(*EVENT_SCHEMA, "received_us")
            .sort("subject_id", "occurred_us", "tie"))


_ID_LIST = 10_000


def _event_ids(ids: list[int]) -> pl.DataFrame:
    listed = ", ".join(str(int(i)) for i in ids)
    sql = (f"SELECT {_c(CustodyEvent, 'id')}, {_c(CustodyEvent, 'event_id')} FROM {_t(CustodyEvent)} "  # noqa: S608
           f"WHERE {_c(CustodyEvent, 'id')} IN ({listed})")
    return frame(sql, [], {"id": pl.Int32, "event_id": pl.String})


def rejections(window: Window) -> pl.DataFrame:
    at = _c(EventRejection, "at")
    sql = (f"SELECT {_c(EventRejection, 'agency')}, SUM({_c(EventRejection, 'count')}) FROM {_t(EventRejection)} "  # noqa: S608
           f"WHERE {at} >= %s AND {at} < %s GROUP BY 1")
    return frame(sql, window.params, {"agency_id": pl.Int64, "n": pl.Int64})


def snapshots_held(window: Window) -> pl.DataFrame:
    """Roster snapshots received in the window that were quarantined (still held, or decided since)."""
    s, f = _t(Snapshot), _t(Facility)
    received = f"s.{_c(Snapshot, 'received_at')}"
    sql = (f"SELECT f.{_c(Facility, 'agency')}, COUNT(*) FROM {s} s JOIN {f} f "  # noqa: S608
           f"ON f.{_c(Facility, 'id')} = s.{_c(Snapshot, 'facility')} WHERE {received} >= %s AND {received} < %s "
           f"AND (s.{_c(Snapshot, 'status')} = %s OR s.{_c(Snapshot, 'decided_at')} IS NOT NULL) GROUP BY 1")
    return frame(sql, [*window.params, SnapshotStatus.QUARANTINED], {"agency_id": pl.Int64, "n": pl.Int64})


def feed_silences(window: Window) -> pl.DataFrame:
    """Feed alerts that may overlap the window: the facility's agency, when it fell silent (µs) and when it
    was next heard from (the next event or snapshot received; null while still silent)."""
    a, f, e, s = _t(FeedAlert), _t(Facility), _t(CustodyEvent), _t(Snapshot)
    since = f"a.{_c(FeedAlert, 'silent_since')}"
    facility = f"a.{_c(FeedAlert, 'facility')}"
    next_event = (f"(SELECT MIN({_c(CustodyEvent, 'received_at')}) FROM {e} WHERE {_c(CustodyEvent, 'facility')} "  # noqa: S608
                  f"= {facility} AND {_c(CustodyEvent, 'received_at')} > {since})")
    next_snapshot = (f"(SELECT MIN({_c(Snapshot, 'received_at')}) FROM {s} WHERE {_c(Snapshot, 'facility')} "  # noqa: S608
                     f"= {facility} AND {_c(Snapshot, 'received_at')} > {since})")
    sql = (f"SELECT f.{_c(Facility, 'agency')}, {_micros(since)}, COALESCE({_micros(next_event)}, {_NONE}), "  # noqa: S608
           f"COALESCE({_micros(next_snapshot)}, {_NONE}) "
           f"FROM {a} a JOIN {f} f ON f.{_c(Facility, 'id')} = {facility} WHERE {since} < %s")
    read = frame(sql, [_param(window.end)], {"agency_id": pl.Int64, "since_us": pl.Int64,
                                             "next_event_us": pl.Int64, "next_snapshot_us": pl.Int64})
    return read.with_columns(pl.when(pl.col(c) != _NONE).then(pl.col(c)).alias(c)
                             for c in ("next_event_us", "next_snapshot_us"))


def facilities() -> pl.DataFrame:
    return frame(f"SELECT {_c(Facility, 'agency')}, COUNT(*) FROM {_t(Facility)} GROUP BY 1", [],  # noqa: S608
                 {"agency_id": pl.Int64, "n": pl.Int64})


class Notifications(NamedTuple):
    """The notifications created in a window, as the report counts them."""

    outcomes: pl.DataFrame  # ``channel``, ``status`` (final, current), ``n``
    handed_over: pl.DataFrame  # ``event_id`` (null for none), ``sent_us`` (null if never handed to a provider)


def notifications(window: Window) -> Notifications:
    """One read of the rows instead of a grouping and a join by the database, both slower than polars over the
    same rows; read in ranges of ids, each counted by outcome (text columns grouped a million rows at a time cost
    far less memory than all at once) and narrowed to its hand-over before the next is read."""
    created, pk = _c(Notification, "created_at"), _c(Notification, "id")
    sql = (f"SELECT {_c(Notification, 'event')}, {_c(Notification, 'channel')}, {_c(Notification, 'status')}, "  # noqa: S608
           f"{_c(Notification, 'sent_at')} FROM {_t(Notification)} "
           f"WHERE {created} >= %s AND {created} < %s AND {pk} >= %s AND {pk} < %s")
    schema = {"event_id": pl.Int32, "channel": pl.String, "status": pl.String, "sent_us": INSTANT}
    first, last = _range(Notification, "id")
    outcomes, handed_over = [], []
    for low in range(first, last + 1, _BATCH_IDS):
        part = frame(sql, [*window.params, low, low + _BATCH_IDS], schema)
        outcomes.append(part.group_by("channel", "status").agg(pl.len().cast(pl.Int64).alias("n")))
        handed_over.append(part.select("event_id", "sent_us"))
        del part
        _trim()
    empty = pl.DataFrame(schema=_schema(schema))
    counts = pl.concat(outcomes) if outcomes else empty.select("channel", "status", n=pl.lit(0, pl.Int64))
    return Notifications(counts.group_by("channel", "status").agg(pl.col("n").sum()),
                         pl.concat(handed_over, rechunk=False) if handed_over else empty.select("event_id", "sent_us"))


def subscriptions(window: Window) -> pl.DataFrame:
    created = _c(Subscription, "created_at")
    sql = (f"SELECT {_c(Subscription, 'created_via')}, {_c(Subscription, 'tier')}, COUNT(*) FROM {_t(Subscription)} "  # noqa: S608
           f"WHERE {created} >= %s AND {created} < %s GROUP BY 1, 2")
    return frame(sql, window.params, {"created_via": pl.String, "tier": pl.String, "n": pl.Int64})


def _person_agencies(person: str) -> str:
    """SQL joining the agencies holding a subject of ``person`` (``pa``'s agency): each is joined once per such
    subject, which the counts of distinct rows absorb, over the index on the subject's person (a ``DISTINCT`` of
    every subject first would read the whole table)."""
    return f"JOIN {_t(Subject)} pa ON pa.{_c(Subject, 'person')} = {person} "


def denials(window: Window) -> pl.DataFrame:
    at = _c(DisclosureDenial, "at")
    sql = (f"SELECT {_c(DisclosureDenial, 'owner')}, COUNT(*) FROM {_t(DisclosureDenial)} "  # noqa: S608
           f"WHERE {at} >= %s AND {at} < %s GROUP BY 1")
    return frame(sql, window.params, {"agency_id": pl.Int64, "n": pl.Int64})


_PAIRS = {"agency_id": pl.Int64, "id": pl.Int64}


def _distinct_per_agency(pairs: pl.DataFrame) -> pl.DataFrame:
    """(agency, row) pairs counted per agency, each row once. Counted here rather than by the database, whose
    grouping would make it plan the join from the (large) subjects' side."""
    return pairs.group_by("agency_id").agg(pl.col("id").n_unique().cast(pl.Int64).alias("n"))


def registrations_held(window: Window) -> pl.DataFrame:
    """Registrations created in the window and still held for the privacy review, per agency holding the
    person followed (a decided registration keeps no trace of having been held, but its audit entry)."""
    r, s = _t(Registration), _t(Subscription)
    created = f"r.{_c(Registration, 'created_at')}"
    sql = (f"SELECT pa.{_c(Subject, 'agency')}, r.{_c(Registration, 'id')} FROM {r} r "  # noqa: S608
           f"JOIN {s} s ON s.{_c(Subscription, 'id')} = r.{_c(Registration, 'subscription')} "
           f"{_person_agencies('s.' + _c(Subscription, 'person'))}"
           f"WHERE {created} >= %s AND {created} < %s AND r.{_c(Registration, 'status')} = %s")
    return _distinct_per_agency(frame(sql, [*window.params, RegistrationStatus.HELD], _PAIRS))


def data_reports(window: Window) -> pl.DataFrame:
    d = _t(DataReport)
    created = f"d.{_c(DataReport, 'created_at')}"
    sql = (f"SELECT pa.{_c(Subject, 'agency')}, d.{_c(DataReport, 'id')} FROM {d} d "  # noqa: S608
           f"{_person_agencies('d.' + _c(DataReport, 'person'))}"
           f"WHERE {created} >= %s AND {created} < %s")
    return _distinct_per_agency(frame(sql, window.params, _PAIRS))


def contact_purges(window: Window) -> pl.DataFrame:
    """Contacts erased by retention in the window (the audit log's ``delete contact`` entries), per agency
    holding a person the contact's registrant followed."""
    a, ct, s = _t(AuditEntry), _t(Contact), _t(Subscription)
    at = f"a.{_c(AuditEntry, 'at')}"
    contact_id = f"CAST(ct.{_c(Contact, 'id')} AS {'TEXT' if connection.vendor == 'sqlite' else 'VARCHAR'})"
    sql = (f"SELECT pa.{_c(Subject, 'agency')}, ct.{_c(Contact, 'id')} FROM {a} a "  # noqa: S608
           f"JOIN {ct} ct ON {contact_id} = a.{_c(AuditEntry, 'object_id')} "
           f"JOIN {s} s ON s.{_c(Subscription, 'registrant')} = ct.{_c(Contact, 'registrant')} "
           f"{_person_agencies('s.' + _c(Subscription, 'person'))}"
           f"WHERE a.{_c(AuditEntry, 'action')} = 'delete' AND a.{_c(AuditEntry, 'object_type')} = 'contact' "
           f"AND {at} >= %s AND {at} < %s")
    return _distinct_per_agency(frame(sql, window.params, _PAIRS))
