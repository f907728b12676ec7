"""Locator lookup latency at 1,000,000 people in custody on SQLite, against a scan without the name keys.

1,000,000 subjects (with a few minors, protected people and people released long ago, as in life)
are written with raw ``executemany`` into a temporary SQLite database. Then 10,000 searches of each
kind (A-number + country, full name + country, booking number + agency + last name) go through the locator
selector, and 1,000 through ``GET /api/v1/locator`` with Django's test client (routing, validation,
the database-backed rate limit, the audit entry for each person shown and JSON included). About one
search in ten names nobody.

The naive baseline, measured in the same run on the same data, is the obvious query without the
folded ``name_key`` column: ``first_name__iexact`` / ``last_name__iexact``, which no index serves
(and which would still miss accents). Target: p99 below 10 ms for every kind of selector lookup.
Run: ``python -m bench bench_locator`` (``BENCH_SUBJECTS``, ``BENCH_LOOKUPS`` change the sizes).
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from typing import Any

from bench.common import bench_env, migrate, percentile, remove_env, run_in_django, write_results

TARGET_P99_MS = 10.0
COUNTRIES = ("MX", "GT", "HN", "SV", "US", "CU", "VE", "CO", "EC", "HT", "DO", "NI", "BR", "IN", "CN", "PH", "NG",
             "UA", "RU", "PE")
SYLLABLES = ("an", "be", "ca", "do", "el", "fa", "gi", "ho", "is", "ju", "ka", "lu", "ma", "ne", "ño", "pa", "que",
             "ro", "sa", "té", "ur", "va", "xi", "yo", "zu", "al", "ber", "cor", "dí", "es")
CHUNK = 50_000


@cache
def _word(number: int, parts: int) -> str:
    syllables = []
    for _ in range(parts):
        number, index = divmod(number, len(SYLLABLES))
        syllables.append(SYLLABLES[index])
    return "".join(syllables).capitalize()


def person(i: int) -> dict[str, Any]:
    """The i-th synthetic subject's searchable facts (deterministic, so lookups can target them)."""
    return {
        "first_name": _word(i % 27_000, 3),
        "last_name": _word(i // 27 + 7, 4),
        "country": COUNTRIES[i % len(COUNTRIES)],
        "a_number": f"{200_000_000 + i:09d}",
        "booking": f"B{i:08d}",
    }


# --- Loading (inside Django) -----------------------------------------------------------------------


def _subject_rows(count: int, now: datetime, agency_id: int, facility_id: int, first_person: int) -> Iterator[
    dict[str, Any]
]:
    """The subjects' column values. Names repeat in blocks, so each is folded once (loading 1M rows is
    mostly Python time)."""
    from vinex.custody.models import fold_name

    rng = random.Random(7)
    stamp = _sqlite_datetime(now)
    days_ago = [_sqlite_datetime(now - timedelta(days=d)) for d in range(401)]
    folded: dict[str, str] = {}
    for i in range(count):
        facts = person(i)
        first, last = facts["first_name"], facts["last_name"]
        for name in (first, last):
            if name not in folded:
                folded[name] = fold_name(name)
        released = rng.random() < 0.10
        born = "2012-01-01" if rng.random() < 0.01 else f"{1950 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d}"
        yield {
            "agency_id": agency_id,
            "agency_subject_id": f"S{i:08d}",
            "person_id": first_person + i,
            "first_name": first,
            "last_name": last,
            "date_of_birth": born,
            "country_of_birth": facts["country"],
            "a_number": facts["a_number"],
            "booking_number": facts["booking"],
            "protected": int(rng.random() < 0.005),
            "name_key": f"{folded[first]}|{folded[last]}",
            "status": "RELEASED" if released else "IN_CUSTODY",
            "facility_id": facility_id,
            "status_changed_at": days_ago[rng.randint(1, 400) if released else rng.randint(1, 90)],
            "created_at": stamp,
            "updated_at": stamp,
        }
        if len(folded) > 100_000:
            folded.clear()


def _sqlite_datetime(moment: datetime) -> str:
    # How Django stores an aware datetime in SQLite: naive UTC text.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def load(count: int) -> dict[str, float]:
    """Migrate, then write ``count`` subjects (one person each) straight into SQLite.

    Indexes are dropped for the load and rebuilt after it, which SQLite does by sorting, far faster
    than maintaining seven B-trees row by row.
    """
    from django.db import connection

    from vinex.custody.models import Agency, Facility, Person, Subject

    migrate()
    started = time.perf_counter()
    agency = Agency.objects.create(code="bench", name="Bench County", jurisdiction_code="US-XX-000")
    facility = Facility.objects.create(agency=agency, code="main", name="Bench County Jail", address="1 Main St",
                                       phone="+1 555 010 0199")
    fields = [f for f in Subject._meta.concrete_fields if not f.primary_key]
    defaults = {f.attname: f.get_db_prep_save(f.get_default(), connection) for f in fields}
    table, people = Subject._meta.db_table, Person._meta.db_table
    insert = (f"INSERT INTO {table} ({', '.join(f.column for f in fields)}) "  # noqa: S608 - our own names
              f"VALUES ({', '.join('?' * len(fields))})")
    database = connection.settings_dict["NAME"]
    connection.close()

    db = sqlite3.connect(database)
    db.execute("PRAGMA synchronous=OFF")
    indexes = db.execute("SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name=? AND sql IS NOT NULL",
                         (table,)).fetchall()
    with db:
        for name, _ in indexes:
            db.execute(f'DROP INDEX "{name}"')
        first_person = int(db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {people}").fetchone()[0]) + 1  # noqa: S608
        stamp = _sqlite_datetime(datetime.now(tz=UTC))
        db.executemany(f"INSERT INTO {people} (id, created_at) VALUES (?, ?)",  # noqa: S608
                       ((first_person + i, stamp) for i in range(count)))
        rows = _subject_rows(count, datetime.now(tz=UTC), agency.pk, facility.pk, first_person)
        names = [f.attname for f in fields]
        db.executemany(insert, ([row.get(n, defaults[n]) for n in names] for row in rows))
    loaded = time.perf_counter() - started
    with db:
        for _, sql in indexes:
            db.execute(sql)
        db.execute("ANALYZE")
    db.close()
    return {"subjects": count, "load_seconds": loaded, "index_seconds": time.perf_counter() - started - loaded}


# --- Measuring (inside Django) ---------------------------------------------------------------------


def _targets(count: int, lookups: int, seed: int) -> list[int | None]:
    rng = random.Random(seed)
    return [None if rng.random() < 0.1 else rng.randrange(count) for _ in range(lookups)]


def _queries(kind: str, targets: list[int | None]) -> list[Any]:
    from vinex.locator.selectors import ByANumber, ByBooking, ByName

    queries: list[Any] = []
    for target in targets:
        facts = person(target) if target is not None else {
            "first_name": "Nadie", "last_name": "Ninguno", "country": "MX", "a_number": "099999999",
            "booking": "X0"}
        if kind == "a_number":
            queries.append(ByANumber(facts["a_number"], facts["country"]))
        elif kind == "name":
            queries.append(ByName(f"  {facts['first_name'].upper()} ", facts["last_name"].lower(), facts["country"]))
        else:
            # A booking number alone finds nobody: the last name is the second fact the locator asks for.
            queries.append(ByBooking("bench", facts["booking"], last_name=facts["last_name"]))
    return queries


def _timed(calls: list[Callable[[], Any]]) -> tuple[list[float], list[float], int]:
    """Wall-clock and CPU milliseconds of each call, and how many found someone.

    CPU time is kept as well because on a shared machine the wall-clock tail mostly measures how
    long the process waited for a core, not the lookup.
    """
    wall: list[float] = []
    cpu: list[float] = []
    found = 0
    for call in calls:
        started, started_cpu = time.perf_counter(), time.thread_time()
        result = call()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        found += bool(result)
    return wall, cpu, found


def _summary(wall: list[float], cpu: list[float], found: int) -> dict[str, float]:
    return {"lookups": len(wall), "found": found, "p50_ms": percentile(wall, 50), "p95_ms": percentile(wall, 95),
            "p99_ms": percentile(wall, 99), "max_ms": max(wall), "cpu_p50_ms": percentile(cpu, 50),
            "cpu_p99_ms": percentile(cpu, 99)}


def _read_through(path: str) -> None:
    """Read the database file once, so lookups are timed against a warm page cache as in service."""
    with open(path, "rb") as database:
        while database.read(1 << 24):
            pass


def measure(count: int, lookups: int, naive_lookups: int) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client

    from vinex.custody.models import Subject
    from vinex.locator.selectors import ByName, locator_search

    _read_through(connection.settings_dict["NAME"])
    results: dict[str, Any] = {"selector": {}}
    for seed, kind in enumerate(("a_number", "name", "booking")):
        queries = _queries(kind, _targets(count, lookups, seed))
        _timed([partial(locator_search, query=q) for q in queries[:200]])  # warm the page cache
        results["selector"][kind] = _summary(*_timed([partial(locator_search, query=q) for q in queries]))

    client = Client(REMOTE_ADDR="192.0.2.10")
    params = [{"first_name": q.first_name, "last_name": q.last_name, "country_of_birth": q.country_of_birth}
              for q in _queries("name", _targets(count, lookups // 10, 99))]
    for warm in params[:20]:  # the first requests set up URL resolving, the schema cache and the audit chain
        client.get("/api/v1/locator", warm)

    def found(query: dict[str, str]) -> list[Any]:
        return list(client.get("/api/v1/locator", query).json()["results"])

    results["http_name_search"] = _summary(*_timed([partial(found, p) for p in params]))

    def naive(query: ByName) -> list[Subject]:
        # What one would write without folded keys: case-insensitive equality that no index serves.
        return list(Subject.objects.filter(first_name__iexact=query.first_name.strip(),
                                           last_name__iexact=query.last_name.strip(),
                                           country_of_birth=query.country_of_birth)[:10])

    naive_queries = _queries("name", _targets(count, naive_lookups, 123))
    results["naive_name_search"] = _summary(*_timed([partial(naive, q) for q in naive_queries]))
    return results


# --- Entry point ----------------------------------------------------------------------------------


def main() -> int:
    count = int(os.environ.get("BENCH_SUBJECTS", "1000000"))
    lookups = int(os.environ.get("BENCH_LOOKUPS", "10000"))
    env = bench_env(extra={"VINEX_LOCATOR_RATE": "100000000/minute", "VINEX_LOCATOR_SESSION_RATE": "100000000/minute",
                           "VINEX_LOG_LEVEL": "WARNING"})
    try:
        print(f"loading {count:,} subjects ...", flush=True)
        loaded = run_in_django(env, load, count)
        print(f"loaded in {loaded['load_seconds']:.1f} s, indexed in {loaded['index_seconds']:.1f} s; "
              f"{lookups:,} lookups of each kind ...", flush=True)
        measured = run_in_django(env, measure, count, lookups, 20)
    finally:
        remove_env(env)

    selector = measured["selector"]
    for kind, figures in selector.items():
        print(f"selector {kind:9}: p50 {figures['p50_ms']:.2f} ms, p95 {figures['p95_ms']:.2f} ms, "
              f"p99 {figures['p99_ms']:.2f} ms; CPU p99 {figures['cpu_p99_ms']:.2f} ms "
              f"({figures['found']:,} of {figures['lookups']:,} found)")
    http, naive = measured["http_name_search"], measured["naive_name_search"]
    print(f"HTTP name search: p50 {http['p50_ms']:.2f} ms, p99 {http['p99_ms']:.2f} ms ({http['lookups']:,} requests)")
    ratio = naive["p50_ms"] / selector["name"]["p50_ms"]
    print(f"naive iexact name search: p50 {naive['p50_ms']:.1f} ms, p99 {naive['p99_ms']:.1f} ms "
          f"-> the folded-key lookup is {ratio:,.0f}x faster at the median")
    met = all(f["p99_ms"] < TARGET_P99_MS for f in selector.values())
    load_average = os.getloadavg()
    print(f"load average during the run: {', '.join(f'{x:.1f}' for x in load_average)} on {os.cpu_count()} cores")
    if load_average[0] > (os.cpu_count() or 1):
        print("note: the machine was oversubscribed, so the wall-clock tail includes time spent waiting for a "
              "core; the CPU-time percentiles show the cost of the lookup itself")
    path = write_results("locator", {**loaded, **measured, "naive_over_indexed_p50": ratio,
                                     "load_average": load_average,
                                     "targets": {"selector_p99_ms": TARGET_P99_MS}, "met": met})
    print(f"{'target met' if met else 'BELOW TARGET'}; results in {path.relative_to(path.parents[2])}")
    return 0 if met else 1
