"""Quarterly report benchmark: a whole quarter's report over 10,000,000 events and 10,000,000 notifications.

Targets: the report (every table, the checks, the files) in under 30 s and under 2 GiB peak memory. The
rows are written straight into a temporary SQLite database by SQL (a recursive CTE per table, indexes
rebuilt afterwards), every event and notification inside the quarter (the worst case). A naive report (an
ORM loop over every event and notification, the state machine folded per subject) is measured in the same
run on a smaller database, with the fast report on that same database for the ratio.

Sizes: ``BENCH_REPORT_EVENTS`` and ``BENCH_REPORT_NOTIFICATIONS`` (default 10,000,000 each),
``BENCH_REPORT_NAIVE_EVENTS`` (default 100,000; as many notifications). Each measurement runs in a fresh
interpreter, so its peak memory is its own.
"""

from __future__ import annotations

import os
import resource
import sqlite3
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import bench_env, migrate, remove_env, run_in_django, write_results

TARGET_S = 30.0
TARGET_RSS_MIB = 2048
TARGET_ROWS = 10_000_000  # events, and as many notifications
QUARTER = "2026Q3"
START = "2026-07-01 00:00:00"
AGENCIES = 50
CONTACTS = 1000
EVENTS_PER_SUBJECT = 4
LATE_EVERY = 100  # one event in a hundred arrives two days late
CORRECTION_EVERY = 1000

# --- Loading (inside Django, then plain sqlite3) ----------------------------------------------------------


def _series(count: int) -> str:
    return f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {int(count) - 1}) "  # noqa: S608


def _default(model: Any, column: str) -> str | None:
    """SQL for a column's model default (a column added since this loader was written), or None."""
    field = next(f for f in model._meta.concrete_fields if f.column == column)
    if field.has_default() and not callable(field.default):
        value = field.get_default()
    elif field.null:
        value = None
    elif field.get_internal_type() in {"CharField", "TextField"}:
        value = ""
    else:
        return None
    if value is None:
        return "NULL"
    if isinstance(value, bool | int):
        return str(int(value))
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return None


def _insert(db: sqlite3.Connection, model: Any, count: int, expressions: dict[str, str]) -> None:
    """Insert ``count`` rows of ``model`` computed from ``n.i`` by SQL; a column without an expression takes
    its model default (or null, or the empty string); one with none of these is an error."""
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    values = {c: expressions.get(c) or _default(model, c) for c in columns}
    missing = sorted(c for c, v in values.items() if v is None)
    if missing:
        raise RuntimeError(f"{model.__name__}: no value for {missing}")
    sql = (f"{_series(count)}INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "  # noqa: S608 - our names
           f"SELECT {', '.join(str(values[c]) for c in columns)} FROM n")
    started = time.perf_counter()
    db.execute(sql)
    print(f"  {model.__name__}: {count:,} rows in {time.perf_counter() - started:.1f} s", flush=True)


def _without_indexes(db: sqlite3.Connection, tables: list[str]) -> list[str]:
    statements = []
    for table in tables:
        for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name=? "
                                    "AND sql IS NOT NULL", (table,)).fetchall():
            db.execute(f'DROP INDEX "{name}"')
            statements.append(sql)
    return statements


def _bulk_connection(database: str) -> sqlite3.Connection:
    """A connection for building the benchmark's database only: no journal, no syncing, a large page cache
    and sorting in memory (an index over ten million rows is a sort)."""
    db = sqlite3.connect(database)
    for pragma in ("journal_mode=OFF", "synchronous=OFF", "locking_mode=EXCLUSIVE", "temp_store=MEMORY",
                   "cache_size=-400000", "threads=2"):
        db.execute(f"PRAGMA {pragma}")
    return db


def load(events: int, notifications: int) -> dict[str, float]:
    """Migrate, create the agencies, then write people, subjects, events, contacts and notifications by SQL."""
    from django.db import connection

    from vinex.custody.models import Agency, CustodyEvent, Facility, Person, Subject
    from vinex.notify.models import CallPreference, Contact, Notification, Registrant

    migrate()
    started = time.perf_counter()
    agencies = [Agency.objects.create(code=f"a{k:03d}", name=f"Agency {k}", jurisdiction_code="US-XX")
                for k in range(AGENCIES)]
    facilities = [Facility.objects.create(agency=a, code="main", name="Main") for a in agencies]
    a0, f0 = agencies[0].pk, facilities[0].pk
    if [a.pk for a in agencies] != list(range(a0, a0 + AGENCIES)) or \
            [f.pk for f in facilities] != list(range(f0, f0 + AGENCIES)):
        raise RuntimeError("agency and facility ids are expected to be consecutive")
    database = connection.settings_dict["NAME"]
    connection.close()

    subjects = max(1, events // EVENTS_PER_SUBJECT)
    db = _bulk_connection(database)
    tables = [t._meta.db_table for t in (Subject, CustodyEvent, Notification, Contact)]
    indexes = _without_indexes(db, tables)
    with db:
        now = f"'{START}'"
        _insert(db, Person, subjects, {"created_at": now})
        _insert(db, Subject, subjects, {
            "agency_id": f"{a0} + i % {AGENCIES}", "agency_subject_id": "'S' || i", "person_id": "i + 1",
            "first_name": "'Robin'", "last_name": "'Quill' || i", "protected": "0",
            "name_key": "'robin|quill' || i", "status": "'IN_CUSTODY'",
            "facility_id": f"{f0} + i % {AGENCIES}", "status_changed_at": now,
            "last_event_at": now, "created_at": now, "updated_at": now})
        # Event i belongs to subject i / 4: booked, a hearing, released, booked again; some are corrections.
        # Notification i is about event i, so both share these expressions (no look-up of the event).
        subject = f"(i / {EVENTS_PER_SUBJECT})"
        step = f"(i % {EVENTS_PER_SUBJECT})"
        offset = f"(({subject} % 80) * 86400 + {step} * 3600 + i % 3600)"
        delay = f"(CASE WHEN i % {LATE_EVERY} = 0 THEN 172800 ELSE 60 END)"
        occurred = f"datetime('{START}', '+' || {offset} || ' seconds')"
        received = f"datetime('{START}', '+' || ({offset} + {delay}) || ' seconds')"
        kind = (f"CASE WHEN i % {CORRECTION_EVERY} = {CORRECTION_EVERY - 1} THEN 'CORRECTION' "
                f"ELSE (CASE {step} WHEN 0 THEN 'BOOKED' WHEN 1 THEN 'HEARING_SCHEDULED' WHEN 2 THEN 'RELEASED' "
                f"ELSE 'BOOKED' END) END")
        _insert(db, CustodyEvent, events, {
            "agency_id": f"{a0} + {subject} % {AGENCIES}", "event_id": "'E' || i", "subject_id": f"{subject} + 1",
            "type": kind, "occurred_at": occurred, "received_at": received,
            "facility_id": f"{f0} + {subject} % {AGENCIES}", "to_facility_id": "NULL",
            "reason": f"CASE {step} WHEN 2 THEN 'bond' ELSE '' END", "source": "'api'",
            "payload_hash": "'x'", "notified": "0"})
        _insert(db, Registrant, CONTACTS, {"language": "'en'", "created_via": "'portal'", "created_at": now,
                                           "call_preference": f"'{CallPreference.STANDARD}'"})
        _insert(db, Contact, CONTACTS, {"registrant_id": "i + 1", "channel": "'email'", "value": "'x'",
                                        "value_index": "'i' || i", "verified_at": now, "created_at": now})
        # Notification i is about event i (one per event and contact), handed over i % 5 seconds later.
        sent = f"datetime('{START}', '+' || ({offset} + {delay} + i % 5) || ' seconds')"
        _insert(db, Notification, min(notifications, events), {
            "subscription_id": "NULL", "event_id": "i + 1", "contact_id": f"i % {CONTACTS} + 1",
            "channel": "CASE i % 3 WHEN 0 THEN 'email' WHEN 1 THEN 'sms' ELSE 'voice' END",
            "template": "'released'", "language": "'en'", "body": "'x'",
            "status": "CASE i % 10 WHEN 0 THEN 'failed_permanent' WHEN 1 THEN 'sent' ELSE 'delivered' END",
            "attempts": "1", "next_attempt_at": now, "created_at": received, "sent_at": sent, "updated_at": now})
    loaded = time.perf_counter() - started
    with db:
        for sql in indexes:
            began = time.perf_counter()
            db.execute(sql)
            print(f"  {sql[:90]}: {time.perf_counter() - began:.1f} s", flush=True)
        db.execute("ANALYZE")
    db.close()
    return {"load_seconds": loaded, "index_seconds": time.perf_counter() - started - loaded}


# --- Measuring (each in a fresh interpreter) ----------------------------------------------------------------


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def measure_report() -> dict[str, float]:
    """The report as ``vinex report quarterly`` makes it (the same two steps ``report_generate`` takes, timed
    apart): the tables and checks from the database, then every file (JSON, CSV, charts, HTML, PDF)."""
    import matplotlib.figure  # noqa: F401 - imports are start-up, not the report
    import weasyprint  # noqa: F401

    from vinex.reports.compute import report_compute
    from vinex.reports.quarter import Quarter
    from vinex.reports.render import files_write

    before = _peak_rss_mib()
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        computed = report_compute(quarter=Quarter.parse(QUARTER))
        computed_at = time.perf_counter()
        files_write(computed=computed, out=Path(out), generated_at=datetime.now(UTC))
        finished = time.perf_counter()
    return {"seconds": finished - started, "compute_seconds": computed_at - started,
            "files_seconds": finished - computed_at, "peak_rss_mib": _peak_rss_mib(), "rss_before_mib": before}


def measure_naive() -> dict[str, float]:
    """The same counts by looping over ORM objects: events by agency and type, status at the end of the
    quarter by folding each history, notifications by channel and status, latency percentiles."""
    from vinex.custody import statemachine as sm
    from vinex.custody.models import CustodyEvent
    from vinex.notify.models import Notification
    from vinex.reports.quarter import Quarter

    quarter = Quarter.parse(QUARTER)
    started = time.perf_counter()
    events: Counter[tuple[str, str]] = Counter()
    histories: dict[int, list[sm.EventFacts]] = defaultdict(list)
    agency_of: dict[int, str] = {}
    for event in CustodyEvent.objects.select_related("agency", "facility").iterator(chunk_size=10_000):
        if quarter.start <= event.occurred_at < quarter.end and event.type != "CORRECTION":
            events[(event.agency.code, event.type)] += 1
        agency_of[event.subject_id] = event.agency.code
        if event.occurred_at < quarter.end:
            histories[event.subject_id].append(sm.EventFacts(
                event.event_id, event.type, event.occurred_at, event.pk, event.facility.code,
                corrects_event_id=event.corrects_event_id))
    people = Counter((agency_of[s], sm.derive(h).status) for s, h in histories.items())
    outcomes: Counter[tuple[str, str]] = Counter()
    latencies: dict[str, list[float]] = defaultdict(list)
    window = Notification.objects.filter(created_at__gte=quarter.start, created_at__lt=quarter.end)
    for notification in window.select_related("event__agency").defer("body").iterator(chunk_size=10_000):
        outcomes[(notification.channel, notification.status)] += 1
        if notification.sent_at and notification.event:
            latencies[notification.event.agency.code].append(
                (notification.sent_at - notification.event.received_at).total_seconds())
    for values in latencies.values():
        values.sort()
    return {"seconds": time.perf_counter() - started, "peak_rss_mib": _peak_rss_mib(),
            "cells": len(events) + len(people) + len(outcomes)}


def _run(events: int, notifications: int, *, naive: bool) -> dict[str, Any]:
    env = bench_env(extra={"VINEX_LOG_LEVEL": "WARNING"})
    try:
        print(f"loading {events:,} events and {notifications:,} notifications ...", flush=True)
        result: dict[str, Any] = {"events": events, "notifications": notifications,
                                  **run_in_django(env, load, events, notifications)}
        print(f"loaded in {result['load_seconds']:.1f} s, indexed in {result['index_seconds']:.1f} s", flush=True)
        result["report"] = run_in_django(env, measure_report)
        if naive:
            result["naive"] = run_in_django(env, measure_naive)
    finally:
        remove_env(env)
    return result


def main() -> int:
    events = int(os.environ.get("BENCH_REPORT_EVENTS", "10000000"))
    notifications = int(os.environ.get("BENCH_REPORT_NOTIFICATIONS", "10000000"))
    small = int(os.environ.get("BENCH_REPORT_NAIVE_EVENTS", "100000"))
    full = _run(events, notifications, naive=False)
    compared = _run(small, small, naive=True)
    report, fast_small, naive = full["report"], compared["report"]["seconds"], compared["naive"]["seconds"]
    print(f"report of {events:,} events and {notifications:,} notifications: {report['seconds']:.1f} s "
          f"(tables {report['compute_seconds']:.1f} s, files {report['files_seconds']:.1f} s), "
          f"peak {report['peak_rss_mib']:.0f} MiB")
    ratio = naive / fast_small
    print(f"at {small:,} events and notifications: naive ORM loop {naive:.1f} s, report {fast_small:.1f} s "
          f"-> {ratio:.1f}x; the naive loop scaled to the full size would take ~{naive * events / small:.0f} s")
    # Below the target's size, the tables are scaled linearly (reading and grouping are linear in the rows;
    # the files do not depend on them) and memory likewise above what the interpreter held before.
    scale = TARGET_ROWS / max(events, notifications, 1)
    expected = {"seconds": report["compute_seconds"] * max(scale, 1.0) + report["files_seconds"],
                "peak_rss_mib": report["rss_before_mib"]
                + (report["peak_rss_mib"] - report["rss_before_mib"]) * max(scale, 1.0)}
    if scale > 1:
        print(f"scaled to {TARGET_ROWS:,} events and notifications: ~{expected['seconds']:.0f} s, "
              f"~{expected['peak_rss_mib']:.0f} MiB (an estimate, not a measurement)")
    met = {"seconds": expected["seconds"] < TARGET_S, "memory": expected["peak_rss_mib"] < TARGET_RSS_MIB}
    load_average = os.getloadavg()
    path = write_results("reports", {
        "measured": datetime.now(UTC).isoformat(), "full": full, "compared": compared,
        "naive_over_report_same_size": ratio, "load_average": load_average, "scaled_to_target_size": expected,
        "targets": {"seconds": TARGET_S, "peak_rss_mib": TARGET_RSS_MIB}, "met": met})
    print(f"{'target met' if all(met.values()) else 'BELOW TARGET'}; results in {path.relative_to(path.parents[2])}")
    return 0 if all(met.values()) else 1
