"""Event ingest throughput through the HTTP API, against a naive one-ORM-save-per-event baseline.

The real server (``vinex serve --workers 2 --threads 1``) on a temporary SQLite database receives
batches of 1,000 events (mostly BOOKED of new people, some RELEASED and TRANSFERRED of people booked
before the run) from four client connections. The baseline, measured in the same run on its own fresh
database, is what a straightforward ORM implementation would do: for each event validate it, get or
create the subject, read its history, derive the status, save the event and the subject, each event
in its own transaction.

The HTTP measurement runs ``BENCH_ROUNDS`` times (default 3, at least 3) against the same server, each
round with events of its own; the median round is the figure judged (on a shared machine a neighbour's
load can slow one round by a third), reported with the best, every round, the server's CPU seconds per
batch (the figure that survives a neighbour's load), the client threads' (they share the cores), the size
of the write-ahead log file after the round and the load average.

Targets: a median of at least 20,000 accepted events/s through HTTP on 4 connections, and at least 10
times the baseline.
Run: ``python -m bench bench_ingest`` (``BENCH_BATCHES``, ``BENCH_ROUNDS``, ``BENCH_NAIVE_EVENTS`` change
the sizes).
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests

from bench.common import (
    BenchEnv,
    Service,
    bench_env,
    free_port,
    migrate,
    percentile,
    remove_env,
    run_in_django,
    services,
    start_server,
    wait_healthy,
    write_results,
)
from bench.procstat import cpu_used, tree_cpu_seconds

BATCH_SIZE = 1_000
# Of every 10 events, one concerns a person already in custody (alternately released and transferred).
EXISTING_EVERY = 10
CLIENT_THREADS = 4
# One process per core; one thread each makes gunicorn's sync workers, which take a batch only when
# idle, so two clients' batches never queue in one process while the other waits (see ``vinex serve``).
SERVER_WORKERS = 2
SERVER_THREADS = 1
TARGET_EVENTS_PER_SECOND = 20_000
TARGET_RATIO = 10.0

FIRST_NAMES = ("Alex", "José", "María", "Sam", "Dana", "Chris", "Lee", "Ana", "Jordan", "Renée")
LAST_NAMES = ("García", "Smith", "Nguyen", "Johnson", "López", "Brown", "O'Neil", "Martínez", "Kim", "Davis")


# --- The workload ---------------------------------------------------------------------------------


def _event(event_id: str, type_: str, subject_id: str, number: int, when: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type_,
        "occurred_at": when.isoformat(),
        "facility_code": "main",
        "subject": {
            "agency_subject_id": subject_id,
            "first_name": FIRST_NAMES[number % len(FIRST_NAMES)],
            "last_name": LAST_NAMES[(number // len(FIRST_NAMES)) % len(LAST_NAMES)],
            "date_of_birth": f"19{60 + number % 40}-0{1 + number % 9}-1{number % 10}",
            "country_of_birth": ("US", "MX", "GT", "HN", "SV")[number % 5],
            "identifiers": {"booking_number": f"B{number:09d}"},
        },
        **extra,
    }


@dataclass(frozen=True)
class Workload:
    """Events booking the people the measured batches release or transfer, and the batches themselves."""

    prebook: list[dict[str, Any]]
    batches: list[list[dict[str, Any]]]

    @property
    def events(self) -> int:
        return sum(len(b) for b in self.batches)


def workload(*, batches: int, tag: str, base: datetime, size: int = BATCH_SIZE) -> Workload:
    """``batches`` batches of ``size`` valid events; ``tag`` keeps ids apart between runs."""
    existing_per_batch = size // EXISTING_EVERY
    prebook = [
        _event(f"{tag}-pre-{n}", "BOOKED", f"{tag}-P{n}", n, base + timedelta(seconds=n))
        for n in range(batches * existing_per_batch)
    ]
    later = base + timedelta(days=1)
    result: list[list[dict[str, Any]]] = []
    for b in range(batches):
        batch: list[dict[str, Any]] = []
        for i in range(size):
            n = b * size + i
            when = later + timedelta(milliseconds=n)
            if i % EXISTING_EVERY == 0:
                p = b * existing_per_batch + i // EXISTING_EVERY
                if p % 2:
                    batch.append(_event(f"{tag}-e-{n}", "RELEASED", f"{tag}-P{p}", p, when, reason="bond"))
                else:
                    batch.append(_event(f"{tag}-e-{n}", "TRANSFERRED", f"{tag}-P{p}", p, when,
                                        to_facility_code="annex"))
            else:
                batch.append(_event(f"{tag}-e-{n}", "BOOKED", f"{tag}-N{n}", n, when))
        result.append(batch)
    return Workload(prebook, result)


# --- Set-up and the naive baseline (run in a fresh interpreter, see run_in_django) ----------------


def _agency_create() -> Any:
    from vinex.custody.models import Agency, Facility

    agency = Agency.objects.create(code="bench", name="Bench County Sheriff", jurisdiction_code="US-XX-001",
                                   support_name="Bench Victim Services", support_phone="+1 555 010 0100")
    Facility.objects.create(agency=agency, code="main", name="Bench County Jail", timezone="America/New_York")
    Facility.objects.create(agency=agency, code="annex", name="Bench Annex", timezone="America/New_York")
    return agency


def _ingest_untimed(agency: Any, raws: list[dict[str, Any]]) -> None:
    from vinex.audit.unit import Actor
    from vinex.custody.schemas import EventIn
    from vinex.pipeline import IncomingEvent, events_ingest, payload_hash

    for start in range(0, len(raws), 5_000):
        chunk = raws[start : start + 5_000]
        incoming = [IncomingEvent(EventIn.model_validate(r), payload_hash(r)) for r in chunk]
        outcomes = events_ingest(agency=agency, events=incoming, actor=Actor.agency(agency.code))
        if any(o.status != "accepted" for o in outcomes):
            raise RuntimeError("set-up events were not all accepted")


def setup_http_database(prebook: list[dict[str, Any]]) -> str:
    """Schema, agency, facilities, the people booked before the run; returns an API key."""
    from vinex.audit.unit import Actor
    from vinex.custody.services import apikey_create

    migrate()
    agency = _agency_create()
    _ingest_untimed(agency, prebook)
    return apikey_create(agency=agency, name="bench", actor=Actor.system("bench"))[1]


def naive_ingest_one(agency: Any, raw: dict[str, Any]) -> str:
    """One event the straightforward way: a handful of ORM calls and its own transaction."""
    from django.db import transaction

    from vinex.audit.unit import Actor
    from vinex.custody import statemachine as sm
    from vinex.custody.models import CustodyEvent, Facility, Person, Subject, name_key
    from vinex.custody.schemas import EventIn
    from vinex.notify.services import notification_enqueue_for_events
    from vinex.pipeline import payload_hash

    data = EventIn.model_validate(raw)
    with transaction.atomic():
        if CustodyEvent.objects.filter(agency=agency, event_id=data.event_id).exists():
            return "duplicate"
        facility = Facility.objects.get(agency=agency, code=data.facility_code)
        to_facility = Facility.objects.get(agency=agency, code=data.to_facility_code) if data.to_facility_code else None
        s = data.subject
        subject, _ = Subject.objects.get_or_create(
            agency=agency,
            agency_subject_id=s.agency_subject_id,
            defaults={"person": Person.objects.create, "first_name": s.first_name, "last_name": s.last_name,
                      "name_key": name_key(s.first_name, s.last_name)},
        )
        history = [
            sm.EventFacts(event_id=e.event_id, type=e.type, occurred_at=e.occurred_at, seq=e.pk,
                          facility_code=e.facility.code, to_facility_code=e.to_facility.code if e.to_facility else None,
                          reason=e.reason, scheduled_for=e.scheduled_for, corrects_event_id=e.corrects_event_id,
                          hearing_id=e.hearing_id)
            for e in subject.events.select_related("facility", "to_facility")
        ]
        before = sm.derive(history)
        facts = sm.EventFacts(event_id=data.event_id, type=data.type, occurred_at=data.occurred_at, seq=1 << 62,
                              facility_code=data.facility_code, to_facility_code=data.to_facility_code,
                              reason=data.reason or "", scheduled_for=data.scheduled_for)
        newest = not history or facts.order_key > max(e.order_key for e in history)
        if newest and sm.transition_error(before, facts):
            return "rejected"
        after = sm.derive([*history, facts])
        event = CustodyEvent(
            agency=agency, event_id=data.event_id, subject=subject, type=data.type, occurred_at=data.occurred_at,
            received_at=datetime.now().astimezone(), facility=facility, to_facility=to_facility,
            reason=data.reason or "", payload_hash=payload_hash(raw),
            notified=newest and before.what_a_victim_knows() != after.what_a_victim_knows(),
        )
        event.save()
        subject.first_name, subject.last_name = s.first_name, s.last_name
        subject.date_of_birth = s.date_of_birth
        subject.country_of_birth = s.country_of_birth or ""
        if s.identifiers and s.identifiers.booking_number:
            subject.booking_number = s.identifiers.booking_number
        subject.status, subject.status_reason = after.status, after.reason
        if after.facility_code:
            subject.facility = Facility.objects.get(agency=agency, code=after.facility_code)
        subject.status_changed_at = after.status_changed_at
        subject.scheduled_release_at = after.scheduled_release_at
        subject.last_event_at = event.occurred_at
        subject.save()
        if event.notified:
            notification_enqueue_for_events(events=[event], actor=Actor.agency(agency.code))
    return "accepted"


def run_naive(load: Workload) -> dict[str, float]:
    """Migrate a fresh database, book the people the workload needs, then time the naive ingest."""
    migrate()
    agency = _agency_create()
    _ingest_untimed(agency, load.prebook)
    raws = [raw for batch in load.batches for raw in batch]
    started = time.perf_counter()
    statuses = [naive_ingest_one(agency, raw) for raw in raws]
    seconds = time.perf_counter() - started
    accepted = statuses.count("accepted")
    if accepted != len(raws):
        raise RuntimeError(f"naive baseline accepted {accepted} of {len(raws)} events")
    return {"events": len(raws), "seconds": seconds, "events_per_second": len(raws) / seconds}


# --- The HTTP measurement -------------------------------------------------------------------------


@dataclass
class Posted:
    seconds: float
    accepted: int
    problem: str = ""


def _post(session: requests.Session, url: str, body: bytes, expected: int) -> Posted:
    started = time.perf_counter()
    response = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=120)
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        return Posted(seconds, 0, f"HTTP {response.status_code}: {response.text[:300]}")
    answer = response.json()
    if answer["accepted"] != expected:
        bad = [r for r in answer["results"] if r["status"] != "accepted"][:3]
        return Posted(seconds, answer["accepted"], f"accepted {answer['accepted']} of {expected}: {bad}")
    return Posted(seconds, answer["accepted"])


def post_all(url: str, token: str, bodies: list[tuple[bytes, int]], threads: int) -> tuple[float, list[Posted]]:
    """Post every body from ``threads`` client threads; returns the wall time and each request's outcome."""
    results: list[Posted] = []
    lock = threading.Lock()
    queue = list(reversed(bodies))

    def client() -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            while True:
                with lock:
                    if not queue:
                        return
                    body, expected = queue.pop()
                posted = _post(session, url, body, expected)
                with lock:
                    results.append(posted)

    workers = [threading.Thread(target=client, name=f"client-{i}") for i in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started, results


def _log_mib(env: BenchEnv) -> float:
    """The size of SQLite's write-ahead log file: SQLite copies it back inside a commit past 256 MiB, while
    that batch holds the write turn (a second's stall that once made each round slower than the one before)."""
    path = env.directory / "bench.sqlite3-wal"
    return round(path.stat().st_size / 2**20, 1) if path.exists() else 0.0


def _round(url: str, token: str, load: Workload, server: Service, env: BenchEnv) -> dict[str, Any]:
    bodies = [(json.dumps({"events": batch}).encode(), len(batch)) for batch in load.batches]
    cpu_before = tree_cpu_seconds(server.process.pid)
    client_cpu_before = time.process_time()  # the client threads share the two cores with the server
    seconds, results = post_all(url, token, bodies, CLIENT_THREADS)
    client_cpu = time.process_time() - client_cpu_before
    server_cpu = sum(cpu_used(cpu_before, tree_cpu_seconds(server.process.pid)).values())
    accepted = sum(r.accepted for r in results)
    latencies = [r.seconds for r in results]
    return {
        "events_sent": load.events,
        "events_accepted": accepted,
        "seconds": seconds,
        "events_per_second": accepted / seconds,
        "server_cpu_seconds_per_batch": server_cpu / len(load.batches),
        "client_cpu_seconds_per_batch": client_cpu / len(load.batches),
        "log_mib_after": _log_mib(env),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "request_seconds_p50": percentile(latencies, 50),
        "request_seconds_p99": percentile(latencies, 99),
        "request_seconds_max": max(latencies),
        "problems": [r.problem for r in results if r.problem][:5],
    }


def measure_http(env: BenchEnv, loads: list[Workload], warmup: Workload) -> dict[str, Any]:
    """Every round's figures, the median round's at the top level."""
    token = run_in_django(env, setup_http_database, [e for w in (warmup, *loads) for e in w.prebook])
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    url = f"{base_url}/api/v1/custody-events"
    warm = [(json.dumps({"events": batch}).encode(), len(batch)) for batch in warmup.batches]
    rounds: list[dict[str, Any]] = []
    with services(lambda: start_server(env, port, workers=SERVER_WORKERS, threads=SERVER_THREADS)) as (server,):
        wait_healthy(base_url, server)
        # Both gunicorn workers load Django and the API on their first requests: not part of the figure.
        _, warm_results = post_all(url, token, warm, CLIENT_THREADS)
        warm_problems = [r.problem for r in warm_results if r.problem]
        if warm_problems:  # no point in a full run against a server that fails
            raise server.fail(f"warm-up posts failed: {warm_problems[0][:300]}")
        for number, load in enumerate(loads, 1):
            rounds.append(_round(url, token, load, server, env))
            print(f"  round {number}: {rounds[-1]['events_per_second']:,.0f} events/s, server CPU "
                  f"{rounds[-1]['server_cpu_seconds_per_batch'] * 1000:.0f} ms per batch (client "
                  f"{rounds[-1]['client_cpu_seconds_per_batch'] * 1000:.0f} ms), write-ahead log "
                  f"{rounds[-1]['log_mib_after']} MiB, load average {rounds[-1]['load_average_1m']}", flush=True)
        server.check_alive()
        if any(r["problems"] for r in rounds):
            print(server.fail("some posts failed"))
    ordered = sorted(rounds, key=lambda r: r["events_per_second"])
    median = ordered[(len(ordered) - 1) // 2]  # a round that happened (the lower middle of an even count)
    return {
        **median,
        "batches": len(loads[0].batches),
        "batch_size": BATCH_SIZE,
        "client_threads": CLIENT_THREADS,
        "median_events_per_second": statistics.median(r["events_per_second"] for r in rounds),
        "best_events_per_second": ordered[-1]["events_per_second"],
        "server_cpu_seconds_per_batch_median": statistics.median(r["server_cpu_seconds_per_batch"] for r in rounds),
        "events_sent": sum(r["events_sent"] for r in rounds),
        "events_accepted": sum(r["events_accepted"] for r in rounds),
        "problems": [p for r in rounds for p in r["problems"]][:5],
        "rounds": rounds,
    }


def main() -> int:
    batches = int(os.environ.get("BENCH_BATCHES", "50"))
    rounds = max(3, int(os.environ.get("BENCH_ROUNDS", "3")))
    naive_events = int(os.environ.get("BENCH_NAIVE_EVENTS", "3000"))
    base = datetime.now().astimezone().replace(microsecond=0) - timedelta(days=7)
    loads = [workload(batches=batches, tag=f"run{n}", base=base) for n in range(rounds)]
    warmup = workload(batches=4, tag="warm", base=base, size=100)
    naive_load = workload(batches=max(1, naive_events // BATCH_SIZE), tag="naive", base=base)

    http_env, naive_env = bench_env(), bench_env()
    try:
        print(f"HTTP: {rounds} rounds of {batches} batches of {BATCH_SIZE} from {CLIENT_THREADS} threads ...",
              flush=True)
        http = measure_http(http_env, loads, warmup)
        print(f"naive baseline: {naive_load.events} events one by one ...", flush=True)
        naive = run_in_django(naive_env, run_naive, naive_load)
    finally:
        remove_env(http_env)
        remove_env(naive_env)

    ratio = http["median_events_per_second"] / naive["events_per_second"]
    load_events = loads[0].events
    complete = http["events_accepted"] == http["events_sent"] and not http["problems"]
    met = complete and http["median_events_per_second"] >= TARGET_EVENTS_PER_SECOND and ratio >= TARGET_RATIO
    print(f"HTTP set-based ingest on {CLIENT_THREADS} connections, median of {rounds} rounds of {load_events:,} "
          f"events: {http['median_events_per_second']:,.0f} events/s (target >= {TARGET_EVENTS_PER_SECOND:,}); "
          f"best {http['best_events_per_second']:,.0f}; per batch p50 {http['request_seconds_p50'] * 1000:.0f} ms, "
          f"p99 {http['request_seconds_p99'] * 1000:.0f} ms; server CPU per batch of {BATCH_SIZE:,} "
          f"{http['server_cpu_seconds_per_batch_median'] * 1000:.0f} ms; "
          f"{http['events_accepted']:,} of {http['events_sent']:,} events accepted in all")
    print(f"naive per-event ORM ingest (in-process, no HTTP): {naive['events']:,} events in "
          f"{naive['seconds']:.2f} s = {naive['events_per_second']:,.0f} events/s")
    print(f"ratio HTTP set-based (median) / naive: {ratio:.1f}x (target >= {TARGET_RATIO:.0f}x); "
          f"load average {os.getloadavg()[0]:.2f}")
    for problem in http["problems"]:
        print(f"problem: {problem}")
    path = write_results("bench_ingest", {
        "http": http,
        "naive": naive,
        "ratio": ratio,
        "targets": {"events_per_second": TARGET_EVENTS_PER_SECOND, "ratio": TARGET_RATIO},
        "met": met,
    })
    print(f"{'targets met' if met else 'BELOW TARGET'}; results in {path.relative_to(path.parents[2])}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
