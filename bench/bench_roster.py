"""Roster diff: a 1,000,000-row snapshot against a 1,000,000-person facility with 1% changes, on SQLite.

End to end over HTTP: ``PUT /api/v1/rosters/{facility}`` with the CSV streamed to the real server
(``vinex serve``, one process), which copies the body to disk, parses and validates it (polars), reads
the population, diffs, records the ~10,000 derived events through the normal ingest path and answers.
The time is the client's, from the first byte sent to the answer read. The baseline, measured in the
same run on its own facility, is a straightforward row-by-row ORM import (csv module, pydantic per row,
one query per row, one ingest call per change), in process, run on a sample (20,000 rows by default: at
a few milliseconds a row, 1,000,000 would take an hour) and scaled linearly to 1,000,000 rows.

The PUT runs ``BENCH_ROSTER_REPEAT`` times (default 5, at least 5), each against a fresh server on a
fresh copy of the seeded database (warmed up by a small roster of its own first), and the median run is
judged: on a shared machine one run can measure the neighbours. Reported beside it: the best run, every
run with the load average, the server's CPU seconds, and its peak memory (the high-water mark of the
resident set of the server's processes, Django included).

After the runs, one more import of the same roster runs in process with each stage timed (copy and hash,
parse, population read, diff, building the events, recording them), to show where the time goes.

Targets: median < 3 s end to end over HTTP, >= 10 x the baseline, peak memory < 1.5 GiB.
Sizes: ``BENCH_ROSTER_ROWS`` (default 1,000,000) and ``BENCH_ROSTER_NAIVE_ROWS`` (default 20,000).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import requests
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import BenchEnv, free_port, services, start_server, wait_healthy  # noqa: E402
from bench.procstat import cpu_used, tree_cpu_seconds  # noqa: E402

RESULTS = REPO / "bench" / "results" / "bench_roster.json"
ROWS = int(os.environ.get("BENCH_ROSTER_ROWS", "1000000"))
NAIVE_ROWS = int(os.environ.get("BENCH_ROSTER_NAIVE_ROWS", "20000"))
REPEAT = max(5, int(os.environ.get("BENCH_ROSTER_REPEAT", "5")))
WARM_ROWS = 100
CHANGE_SHARE = 0.01  # half of them releases, half bookings
TARGET_SECONDS = 3.0
TARGET_RATIO = 10.0
TARGET_PEAK_BYTES = 1.5 * 1024**3
SEEDED_AT = "2026-11-01 00:00:00"

T = TypeVar("T")


# --- Running parts in a fresh interpreter ---------------------------------------------------------


def _init(variables: dict[str, str]) -> None:
    os.environ.update(variables)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import django

    django.setup()


def _in_django(variables: dict[str, str], function: Callable[..., T], *args: Any) -> T:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=_init, initargs=(variables,)) as pool:
        return pool.submit(function, *args).result()


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if platform.system() == "Darwin" else peak * 1024  # Linux reports KiB


# --- Set-up: schema, a population, a snapshot -------------------------------------------------------


def _subject_sql(agency_id: int, facility_id: int, prefix: str, first_person: int) -> dict[str, str]:
    """SQL expressions of the seeded columns, in terms of the row number ``i``."""
    seeded = f"'{SEEDED_AT}'"
    return {"agency_id": str(agency_id), "agency_subject_id": f"'{prefix}' || i", "person_id": f"{first_person} + i",
            "first_name": "'Alex'", "last_name": "'Doe' || (i % 997)", "country_of_birth": "'US'",
            "booking_number": "'BK' || i", "protected": "0", "name_key": "'alex|doe' || (i % 997)",
            "status": "'IN_CUSTODY'", "facility_id": str(facility_id), "status_changed_at": seeded,
            "last_event_at": seeded, "created_at": seeded, "updated_at": seeded}


def _seed(facility_id: int, agency_id: int, prefix: str, count: int, first_person: int) -> None:
    """Insert ``count`` people in custody with SQL alone (a recursive row counter), indexes built afterwards."""
    from django.db import connection, transaction

    from vinex.custody.models import Person, Subject

    fields = [f for f in Subject._meta.concrete_fields if not f.primary_key]
    exprs = _subject_sql(agency_id, facility_id, prefix, first_person)
    # Columns the seed does not set take the model's default, so the seed follows schema changes.
    params = [None if f.null else (f.get_default() if f.has_default() else "") for f in fields
              if f.attname not in exprs]
    select = ", ".join(exprs.get(f.attname, "?") for f in fields)
    counter = f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {int(count)})"  # noqa: S608
    table = Subject._meta.db_table
    with transaction.atomic():
        raw = connection.connection
        indexes = [sql for (sql,) in raw.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", [table])]
        for sql in indexes:
            raw.execute("DROP INDEX " + sql.split(" ON ")[0].split()[-1])
        raw.execute(f"INSERT INTO {Person._meta.db_table} (id, created_at) {counter} "  # noqa: S608
                    f"SELECT {first_person} + i, '{SEEDED_AT}' FROM n")
        raw.execute(f"INSERT INTO {table} ({', '.join(f.column for f in fields)}) {counter} "  # noqa: S608
                    f"SELECT {select} FROM n", params)
        for sql in indexes:
            raw.execute(sql)


def _write_snapshot(path: Path, prefix: str, count: int) -> dict[str, int]:
    """The population minus every 200th person, plus as many new people: 1% of rows change."""
    import polars as pl

    step = int(2 / CHANGE_SHARE)
    kept = pl.int_range(0, count, eager=True).filter(pl.int_range(0, count, eager=True) % step != 0)
    new = pl.int_range(count, count + (count - len(kept)), eager=True)
    ids = pl.concat([kept, new])
    frame = pl.DataFrame({"n": ids}).select(
        agency_subject_id=pl.lit(prefix) + pl.col("n").cast(pl.String),
        booking_number=pl.lit("BK") + pl.col("n").cast(pl.String),
        first_name=pl.lit("Alex"),
        last_name=pl.lit("Doe") + (pl.col("n") % 997).cast(pl.String),
        date_of_birth=pl.lit("1980-01-01"),
        country_of_birth=pl.lit("US"),
        a_number=(pl.col("n") + 100_000_000).cast(pl.String),
        state_id=pl.lit("ST") + pl.col("n").cast(pl.String),
        fbi_number=pl.lit(""),
        booked_at=pl.lit("2026-11-20T08:00:00-05:00"),
        scheduled_release=pl.lit(""),
    )
    frame.write_csv(path)
    return {"rows": len(frame), "released": count - len(kept), "booked": len(new)}


def setup(directory: str) -> dict[str, Any]:
    from django.core.management import call_command

    from vinex.audit.unit import Actor
    from vinex.custody.models import Agency, Facility
    from vinex.custody.services import apikey_create

    call_command("migrate", verbosity=0)
    agency = Agency.objects.create(code="state", name="State Corrections", jurisdiction_code="US-XX")
    big = Facility.objects.create(agency=agency, code="big", name="Big Prison")
    sample = Facility.objects.create(agency=agency, code="sample", name="Sample Jail")
    # Another agency's: a second roster-fed facility of the same agency would hold its absentees as pending
    # departures (they may turn up on that roster) instead of releasing them.
    other = Agency.objects.create(code="county", name="County Jail", jurisdiction_code="US-XX-002")
    warm = Facility.objects.create(agency=other, code="warm", name="Warm-up Jail")
    started = time.perf_counter()
    _seed(big.pk, agency.pk, "B-", ROWS, 1)
    _seed(sample.pk, agency.pk, "S-", NAIVE_ROWS, ROWS + 1)
    _seed(warm.pk, other.pk, "W-", WARM_ROWS, ROWS + NAIVE_ROWS + 1)
    seeded = time.perf_counter() - started
    folder = Path(directory)
    token = apikey_create(agency=agency, name="bench", actor=Actor.system("bench"), scopes=["rosters:write"])[1]
    warm_token = apikey_create(agency=other, name="warm", actor=Actor.system("bench"), scopes=["rosters:write"])[1]
    return {
        "seed_seconds": round(seeded, 1),
        "big": _write_snapshot(folder / "big.csv", "B-", ROWS),
        "sample": _write_snapshot(folder / "sample.csv", "S-", NAIVE_ROWS),
        "warm": _write_snapshot(folder / "warm.csv", "W-", WARM_ROWS),
        "big_bytes": (folder / "big.csv").stat().st_size,
        "tokens": (token, warm_token),
    }


# --- The two implementations ----------------------------------------------------------------------


def _peak_rss_of_tree(root: int) -> int:
    """The highest resident set any process of the server reached so far (``VmHWM``, Linux)."""
    peak = 0
    for pid in tree_cpu_seconds(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]) * 1024)
    return peak


def _put(url: str, token: str, path: Path) -> tuple[float, dict[str, Any]]:
    """PUT the file (streamed from disk) and read the answer; returns the seconds and the answer."""
    started = time.perf_counter()
    with path.open("rb") as body:
        response = requests.put(url, data=body, timeout=600,
                                headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"})
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"PUT {url}: HTTP {response.status_code}: {response.text[:300]}")
    return seconds, response.json()


def http_import(env: BenchEnv, directory: Path, tokens: tuple[str, str]) -> dict[str, Any]:
    """One timed PUT of the big roster to a fresh server (warmed up with the small roster first)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with services(lambda: start_server(env, port, workers=1, threads=1)) as (server,):
        wait_healthy(base_url, server)
        _put(f"{base_url}/api/v1/rosters/warm", tokens[1], directory / "warm.csv")
        cpu_before = tree_cpu_seconds(server.process.pid)
        seconds, answer = _put(f"{base_url}/api/v1/rosters/big", tokens[0], directory / "big.csv")
        cpu = sum(cpu_used(cpu_before, tree_cpu_seconds(server.process.pid)).values())
        peak = _peak_rss_of_tree(server.process.pid)
        server.check_alive()
    return {
        "seconds": seconds,
        "server_cpu_seconds": cpu,
        "peak_rss_bytes": peak,
        "status": answer["status"],
        "booked": answer["booked"],
        "released": answer["released"],
        "unchanged": answer["unchanged"],
        "errors": answer["error_count"],
    }


def naive_import(path: str) -> dict[str, Any]:
    """What a row-by-row ORM implementation does: one query per row, one ingest call per change."""
    import csv

    from django.utils import timezone

    from vinex.audit.unit import Actor
    from vinex.custody.models import CustodyStatus, Facility, Subject
    from vinex.custody.schemas import EventIn, SubjectIn
    from vinex.pipeline import IncomingEvent, events_ingest, payload_hash

    facility = Facility.objects.select_related("agency").get(code="sample")
    agency = facility.agency
    as_of = timezone.now()
    started = time.perf_counter()

    def record(kind: str, subject: dict[str, Any], **extra: Any) -> None:
        raw = {"event_id": f"naive:{kind}:{subject['agency_subject_id']}", "type": kind, "occurred_at": as_of,
               "facility_code": facility.code, "subject": subject, **extra}
        events_ingest(agency=agency, events=[IncomingEvent(EventIn.model_validate(raw), payload_hash(raw), "roster")],
                      actor=Actor.system("command:roster"))

    seen: set[str] = set()
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            person = SubjectIn.model_validate({
                "agency_subject_id": row["agency_subject_id"], "first_name": row["first_name"],
                "last_name": row["last_name"], "date_of_birth": row["date_of_birth"] or None,
                "country_of_birth": row["country_of_birth"] or None,
                "identifiers": {"a_number": row["a_number"] or None, "booking_number": row["booking_number"] or None},
            })
            seen.add(person.agency_subject_id)
            subject = Subject.objects.filter(agency=agency, agency_subject_id=person.agency_subject_id).first()
            if subject is None or subject.status != CustodyStatus.IN_CUSTODY or subject.facility_id != facility.pk:
                record("BOOKED", person.model_dump(mode="json", exclude_none=True))
    for subject in Subject.objects.filter(facility=facility, status=CustodyStatus.IN_CUSTODY).iterator():
        if subject.agency_subject_id not in seen:
            record("RELEASED", {"agency_subject_id": subject.agency_subject_id, "first_name": subject.first_name,
                                "last_name": subject.last_name}, reason="unknown")
    return {"seconds": time.perf_counter() - started, "peak_rss_bytes": _peak_rss_bytes()}


def _timed(module: Any, name: str, totals: dict[str, float], label: str) -> None:
    """Replace ``module.name`` by a wrapper that adds its wall-clock seconds to ``totals[label]``."""
    original = getattr(module, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[label] = totals.get(label, 0.0) + time.perf_counter() - started

    setattr(module, name, timed)


def stages(path: str) -> dict[str, Any]:
    """Where the time of one import goes, in process (no HTTP): the same work as the PUT, each stage timed.

    The file is copied and hashed as the endpoint does, then imported. Parsing runs in a thread beside the
    population read, so those two overlap; the rest follows one after another. ``ingest`` is the events'
    recording (``events_ingest``), ``events`` building them from the diff.
    """
    import tempfile

    from vinex.audit.unit import Actor
    from vinex.custody.models import Facility
    from vinex.feeds import parsing, selectors, services

    totals: dict[str, float] = {}
    for module, name, label in ((services, "roster_parse", "parse"), (selectors, "population_ids", "population"),
                                (services, "roster_diff", "diff"), (services, "_incoming", "events"),
                                (services, "events_ingest", "ingest")):
        _timed(module, name, totals, label)
    facility = Facility.objects.select_related("agency").get(code="big")
    cpu = time.process_time()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder, open(path, "rb") as body:
        copy = Path(folder) / "roster"
        digest, _ = parsing.copy_stream(body, copy, limit=1 << 40)
        totals["copy"] = time.perf_counter() - started
        snapshot = services.roster_import(facility=facility, path=copy, origin="api", content_hash=digest,
                                          content_type="text/csv", actor=Actor.agency(facility.agency.code))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "cpu_seconds": time.process_time() - cpu, "events_written": snapshot.booked +
            snapshot.released, "stage_seconds": {k: round(v, 3) for k, v in totals.items()},
            "ingest_share": round(totals.get("ingest", 0.0) / seconds, 3)}


# --- Report ---------------------------------------------------------------------------------------


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _pristine(directory: Path) -> Path:
    """A copy of the seeded database, so every timed import starts from the same state."""
    database = directory / "bench.sqlite3"
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    copy = directory / "seeded.sqlite3"
    shutil.copyfile(database, copy)
    return copy


def _fast_runs(env: BenchEnv, directory: Path, seeded: Path, tokens: tuple[str, str]) -> dict[str, Any]:
    """The PUT ``REPEAT`` times, each on a fresh copy of the seeded database; the median run, with all of them."""
    runs = []
    for number in range(1, REPEAT + 1):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{directory / 'bench.sqlite3'}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(seeded, directory / "bench.sqlite3")
        # The copy's 300 MB would otherwise be written back to disk during the timed import.
        os.sync()
        load_before = _load()
        run = http_import(env, directory, tokens)
        run["load_average_1m"] = {"before": load_before, "after": _load()}
        runs.append(run)
        print(f"  run {number}/{REPEAT}: {run['seconds']:.2f} s (server CPU {run['server_cpu_seconds']:.2f} s), "
              f"peak {run['peak_rss_bytes'] / 2**20:.0f} MiB, load average {load_before} -> {_load()}", flush=True)
    ordered = sorted(runs, key=lambda r: r["seconds"])
    median = ordered[(len(ordered) - 1) // 2]
    return {**median, "median_seconds": statistics.median(r["seconds"] for r in runs),
            "best_seconds": ordered[0]["seconds"], "peak_rss_bytes_max": max(r["peak_rss_bytes"] for r in runs),
            "runs": [{k: v for k, v in r.items() if k != "status"} for r in runs]}


def _variables(directory: Path) -> dict[str, str]:
    return {
        "VINEX_ENV": "development",
        "VINEX_VAR_DIR": str(directory),
        "VINEX_DATABASE_URL": f"sqlite:///{directory / 'bench.sqlite3'}",
        "VINEX_SECRET_KEY": Fernet.generate_key().decode() * 2,
        "VINEX_FIELD_KEY": Fernet.generate_key().decode(),
        "VINEX_SMS_PROVIDER": "log",
        "VINEX_LOG_LEVEL": "ERROR",
        "DJANGO_SETTINGS_MODULE": "vinex.settings",
    }


def main() -> int:
    directory = Path(tempfile.mkdtemp(prefix="vinex-bench-roster-"))
    variables = _variables(directory)
    env = BenchEnv(directory, variables)
    try:
        print(f"seeding {ROWS:,} + {NAIVE_ROWS:,} people in custody and writing snapshots…", flush=True)
        prepared = _in_django(variables, setup, str(directory))
        tokens = tuple(prepared.pop("tokens"))
        print(f"  seeded in {prepared['seed_seconds']} s; snapshot {prepared['big_bytes'] / 1e6:.0f} MB", flush=True)
        seeded = _pristine(directory)
        print(f"vinex, PUT over HTTP, {REPEAT} runs on {os.cpu_count()} CPUs:", flush=True)
        fast = _fast_runs(env, directory, seeded, (tokens[0], tokens[1]))
        print(f"vinex: median {fast['median_seconds']:.2f} s end to end over HTTP for {ROWS:,} rows (best "
              f"{fast['best_seconds']:.2f} s), peak {fast['peak_rss_bytes_max'] / 2**20:.0f} MiB", flush=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{directory / 'bench.sqlite3'}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(seeded, directory / "bench.sqlite3")
        split = _in_django(variables, stages, str(directory / "big.csv"))
        split["load_average_1m"] = _load()
        print(f"in process: {split['seconds']:.2f} s ({split['cpu_seconds']:.2f} s CPU), stages "
              f"{split['stage_seconds']}; recording the events is {split['ingest_share']:.0%} of it", flush=True)
        fast["in_process"] = split
        naive_load = _load()
        naive = _in_django(variables, naive_import, str(directory / "sample.csv"))
        naive["load_average_1m"] = {"before": naive_load, "after": _load()}
        scaled = naive["seconds"] * ROWS / NAIVE_ROWS
        ratio = scaled / fast["median_seconds"]
        print(f"naive row-by-row ORM: {naive['seconds']:.1f} s for {NAIVE_ROWS:,} rows, scaled to {ROWS:,}: "
              f"{scaled:.0f} s (load average {naive_load} -> {_load()})", flush=True)
        met = {
            "seconds": fast["median_seconds"] < TARGET_SECONDS,
            "ratio": ratio >= TARGET_RATIO,
            "memory": fast["peak_rss_bytes_max"] < TARGET_PEAK_BYTES,
            "correct": all((r["booked"], r["released"]) == (prepared["big"]["booked"], prepared["big"]["released"])
                           for r in fast["runs"]) and fast["status"] == "applied",
        }
        print(f"ratio {ratio:.0f}x (target {TARGET_RATIO:g}x); median end to end {fast['median_seconds']:.2f} s "
              f"(target {TARGET_SECONDS:g} s); peak {fast['peak_rss_bytes_max'] / 2**30:.2f} GiB (target 1.5 GiB); "
              f"targets met: {met}", flush=True)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps({
            "benchmark": "roster", "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "load_average_1m_at_end": _load(), "repeat": REPEAT, "over": "HTTP PUT /api/v1/rosters/{facility}",
            "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                        "sqlite": sqlite3.sqlite_version, "platform": platform.platform()},
            "rows": ROWS, "naive_rows": NAIVE_ROWS, "prepared": prepared, "vinex": fast,
            "naive": {**naive, "scaled_seconds": scaled, "scaled_from_rows": NAIVE_ROWS},
            "ratio": ratio, "targets": {"seconds": TARGET_SECONDS, "ratio": TARGET_RATIO,
                                        "peak_bytes": TARGET_PEAK_BYTES}, "met": met,
        }, indent=2) + "\n")
        return 0 if all(met.values()) else 1
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
