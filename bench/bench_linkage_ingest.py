"""What incremental linking adds to ingest: a 1,000-event batch of a second agency against 1,000,000 people.

A temporary SQLite database holds ``BENCH_LINK_PEOPLE`` (default 1,000,000) subjects of county A, each its
own person, with skewed names, dates of birth and, for most, an A-number. Agency B then sends a batch of
``BENCH_LINK_BATCH`` (default 1,000) BOOKED events of subjects new to it: one in ten carries the A-number
of someone county A holds (under a differently spelt name), one in ten shares a name and birthday with
someone there, the rest are strangers. The same batch is ingested through the events use case with
linking on (the pipeline's hook) and off (custody's default), each inside a transaction rolled back
afterwards, so every round sees the same data. On a shared machine one run may be slowed by a
neighbour, so there are ``BENCH_LINK_ROUNDS`` (default 7, at least 5) rounds, each an off and an on run
back to back in alternating order (off first, then on first, ...), and the results are medians: of each
side, their ratio, and of the time linking added within each round. The machine's load average is
recorded at the start and the end. With linking on, ingest decides the deterministic rules and queues
the subjects; the time of the ``linkage.pending`` job that then scores them with the model (outside
the batch, so not in its time) is reported apart.

Target: linking adds < 20 % to the batch's ingest time. Results: ``bench/results/linkage_ingest.json``.
Run: ``python -m bench bench_linkage_ingest``.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.common import bench_env, migrate, remove_env, run_in_django, write_results

PEOPLE = int(os.environ.get("BENCH_LINK_PEOPLE", "1000000"))
BATCH = int(os.environ.get("BENCH_LINK_BATCH", "1000"))
ROUNDS = max(5, int(os.environ.get("BENCH_LINK_ROUNDS", "7")))
SEED = 20261204
TARGET_OVERHEAD = 0.20
_CHUNK = 50_000

FIRST = [f"{a}{b}" for a in ("Al", "Be", "Ca", "Da", "El", "Fa", "Ga", "He", "Is", "Jo", "Ka", "Lu", "Ma", "No",
                              "Os", "Pa", "Ra", "Sa", "Ta", "Va") for b in ("na", "ris", "mon", "lia", "ndro",
                                                                            "bel", "tor", "ena", "uel", "ita")]
LAST = [f"{a}{b}" for a in ("Gar", "Lop", "Mar", "Her", "Gon", "Per", "San", "Ram", "Tor", "Flo", "Riv", "Gom",
                             "Dia", "Cru", "Mor", "Ort", "Rey", "Jim", "Rui", "Alv", "Cas", "Ven", "Mej", "Nav",
                             "Var") for b in ("cia", "ez", "ino", "ado", "illo", "era", "ona", "uez", "ales",
                                              "ero", "ana", "iz", "oso", "uto", "ell", "ari", "ada", "ira", "osa",
                                              "ueno")]


def _skewed(rng: random.Random, size: int) -> int:
    return min(int(rng.paretovariate(1.2)) - 1, size - 1) if rng.random() < 0.5 else rng.randrange(size)


def _person(rng: random.Random, number: int) -> dict[str, Any]:
    # Skewed like real names: a few common, many rare.
    first = FIRST[_skewed(rng, len(FIRST))]
    last = LAST[_skewed(rng, len(LAST))]
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(50 * 365))
    a_number = f"{100_000_000 + number:09d}" if rng.random() < 0.7 else ""
    return {"first_name": first, "last_name": last, "date_of_birth": born, "a_number": a_number,
            "country_of_birth": rng.choice(("MX", "GT", "HN", "SV", "US"))}


def populate(people: int) -> None:
    """County A with ``people`` subjects (each its own person) and agency B, written in bulk."""
    from django.db import transaction

    from vinex.core.bulk import ids_reserve, rows_insert
    from vinex.custody.ingest.store import SUBJECT_BLANK, SUBJECT_COLUMNS
    from vinex.custody.models import Agency, CustodyStatus, Facility, Person, Subject, name_key

    county = Agency.objects.create(code="county-a", name="County A", jurisdiction_code="US-AZ-001")
    jail = Facility.objects.create(agency=county, code="main", name="County A Jail")
    detention = Agency.objects.create(code="agency-b", name="Agency B", jurisdiction_code="US-TX-002")
    Facility.objects.create(agency=detention, code="main", name="Agency B Detention")
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    for start in range(0, people, _CHUNK):
        count = min(_CHUNK, people - start)
        with transaction.atomic():
            person_ids = ids_reserve(Person, count)
            rows_insert(Person, ("id", "created_at"), [(pk, now) for pk in person_ids])
            subject_ids = ids_reserve(Subject, count)
            rows = []
            for offset, (person_id, subject_id) in enumerate(zip(person_ids, subject_ids, strict=True)):
                fields = _person(rng, start + offset)
                values = {**SUBJECT_BLANK, **fields, "id": subject_id, "person_id": person_id,
                          "agency_id": county.pk,
                          "agency_subject_id": f"A-{start + offset}", "facility_id": jail.pk,
                          "name_key": name_key(fields["first_name"], fields["last_name"]),
                          "status": CustodyStatus.IN_CUSTODY, "status_changed_at": now, "last_event_at": now,
                          "created_at": now, "updated_at": now}
                rows.append(tuple(values[c] for c in SUBJECT_COLUMNS))
            rows_insert(Subject, SUBJECT_COLUMNS, rows)


def batch(people: int, size: int, by_name: bool) -> list[dict[str, Any]]:
    """Agency B's batch: a tenth known by A-number, a tenth (when ``by_name``) by name and birthday only,
    the rest strangers."""
    from vinex.custody.models import Subject

    def day(value: date | None) -> str | None:
        return value.isoformat() if value else None

    rng = random.Random(SEED + 1)
    when = datetime.now(UTC) - timedelta(minutes=5)
    known = list(Subject.objects.filter(agency__code="county-a", pk__in=[rng.randrange(1, people + 1)
                                                                        for _ in range(size // 2)])
                 .values("first_name", "last_name", "date_of_birth", "a_number", "country_of_birth"))
    numbered = [k for k in known if k["a_number"]]
    events = []
    for number in range(size):
        if number % 10 == 0 and numbered:
            match = numbered.pop()
            subject = {"first_name": match["first_name"][:-1], "last_name": match["last_name"],
                       "identifiers": {"a_number": match["a_number"]},
                       "country_of_birth": match["country_of_birth"],
                       "date_of_birth": day(match["date_of_birth"])}
        elif number % 10 == 1 and known and by_name:
            match = known.pop()
            subject = {"first_name": match["first_name"], "last_name": match["last_name"],
                       "date_of_birth": day(match["date_of_birth"]), "country_of_birth": "US"}
        else:
            stranger = _person(rng, people + number)
            subject = {"first_name": stranger["first_name"], "last_name": stranger["last_name"] + "son",
                       "date_of_birth": stranger["date_of_birth"].isoformat(),
                       "country_of_birth": stranger["country_of_birth"]}
        events.append({"event_id": f"b-{number}", "type": "BOOKED", "occurred_at": when.isoformat(),
                       "facility_code": "main", "subject": {"agency_subject_id": f"B-{number}", **subject}})
    return events


class _Rollback(Exception):
    pass


def ingest_once(raws: list[dict[str, Any]], linking: bool) -> dict[str, Any]:
    """Seconds to ingest the batch with linking on or off, and what linking decided, all rolled back.

    Each round is a fresh interpreter: a first, untimed ingest of the same batch warms it up (imports,
    first use of the name tables), as a running server is, so the round times the batch alone. The warm-up
    does not run the model's job: that runs in the scheduler's process, and a server that had loaded Splink
    and DuckDB would collect garbage more slowly, which would be charged to linking.
    """
    _ingest_timed(raws, linking, job=False)
    return _ingest_timed(raws, linking, job=linking)


def _ingest_timed(raws: list[dict[str, Any]], linking: bool, *, job: bool) -> dict[str, Any]:
    from django.db import transaction

    from vinex.audit.unit import Actor
    from vinex.custody.ingest import IncomingEvent, event_ingest, payload_hash
    from vinex.custody.ingest.service import nobody_links
    from vinex.custody.models import Agency
    from vinex.custody.schemas import EventIn
    from vinex.linkage.models import Decision, LinkDecision
    from vinex.linkage.services import SubjectLinker, pending_link
    from vinex.notify.selectors import person_ids_followed

    agency = Agency.objects.get(code="agency-b")
    incoming = [IncomingEvent(EventIn.model_validate(r), payload_hash(r)) for r in raws]
    outcome: dict[str, Any] = {}
    try:
        with transaction.atomic():
            started, cpu = time.perf_counter(), time.process_time()
            # The same ingest either way (who follows whom asked as the pipeline asks); only the hook differs.
            results = event_ingest(agency=agency, events=incoming, actor=Actor.agency(agency.code),
                                   followed=lambda ids: person_ids_followed(person_ids=ids),
                                   link=SubjectLinker().link if linking else nobody_links)
            outcome["seconds"] = time.perf_counter() - started
            # SQLite works in this process: its CPU time is the batch's cost, whatever the neighbours do.
            outcome["cpu_seconds"] = time.process_time() - cpu
            outcome["accepted"] = sum(r.status == "accepted" for r in results)
            if job:
                # The model's part, seconds later in the scheduler's job, outside the batch's transaction.
                started = time.perf_counter()
                pending_link(now=datetime.now(UTC))
                outcome["job_seconds"] = time.perf_counter() - started
            outcome["linked"] = LinkDecision.objects.filter(decision=Decision.LINKED).count()
            outcome["review"] = LinkDecision.objects.filter(decision=Decision.REVIEW).count()
            raise _Rollback
    except _Rollback:
        pass
    return outcome


def _scenario(env: Any, name: str, by_name: bool) -> dict[str, Any]:
    """Rounds of linking off and on over the same batch, in alternating order; medians, ratio and what
    was decided."""
    raws = run_in_django(env, batch, PEOPLE, BATCH, by_name)
    runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    for number in range(ROUNDS):
        # Alternate which goes first, so a neighbour's burst or a warm cache favours neither side.
        for linking in (False, True) if number % 2 == 0 else (True, False):
            runs[linking].append(run_in_django(env, ingest_once, raws, linking))
    off, on = [r["seconds"] for r in runs[False]], [r["seconds"] for r in runs[True]]
    cpu_off, cpu_on = [r["cpu_seconds"] for r in runs[False]], [r["cpu_seconds"] for r in runs[True]]
    job = [r["job_seconds"] for r in runs[True]]
    decided = runs[True][-1]
    median_off, median_on = statistics.median(off), statistics.median(on)
    added = statistics.median(b - a for a, b in zip(off, on, strict=True))
    overhead = median_on / median_off - 1
    cpu_overhead = statistics.median(cpu_on) / statistics.median(cpu_off) - 1
    print(f"  {name}: linking off median {median_off:.3f} s {[round(x, 3) for x in off]}; "
          f"on median {median_on:.3f} s {[round(x, 3) for x in on]}")
    print(f"    ratio on/off {median_on / median_off:.3f} (overhead {overhead:.1%}, target < {TARGET_OVERHEAD:.0%}); "
          f"linking added a median {added * 1000:.0f} ms a round; CPU time off {statistics.median(cpu_off):.3f} s, "
          f"on {statistics.median(cpu_on):.3f} s (overhead {cpu_overhead:.1%})")
    print(f"    {decided['linked']} linked, {decided['review']} to review (after the job, which took a median "
          f"{statistics.median(job):.3f} s outside the batch)")
    return {"seconds_off": off, "seconds_on": on, "median_off": median_off, "median_on": median_on,
            "ratio": median_on / median_off, "overhead": overhead, "median_added_seconds": added,
            "cpu_seconds_off": cpu_off, "cpu_seconds_on": cpu_on, "median_cpu_off": statistics.median(cpu_off),
            "median_cpu_on": statistics.median(cpu_on), "cpu_overhead": cpu_overhead,
            "job_seconds": job, "median_job": statistics.median(job), "linked": decided["linked"],
            "review": decided["review"], "meets_target": overhead < TARGET_OVERHEAD}


def main() -> int:
    env = bench_env()
    try:
        run_in_django(env, migrate)
        started = time.perf_counter()
        run_in_django(env, populate, PEOPLE)
        populate_seconds = time.perf_counter() - started
        print(f"{PEOPLE:,} people, a batch of {BATCH:,} new subjects of a second agency "
              f"(populated in {populate_seconds:.0f} s)")
        load_before = os.getloadavg()
        scenarios = {name: _scenario(env, name, by_name) for name, by_name in
                     (("identifiers", False), ("identifiers_and_names", True))}
        load_after = os.getloadavg()
        print(f"load average (1, 5, 15 min): {load_before} before, {load_after} after")
        write_results("linkage_ingest", {"people": PEOPLE, "batch": BATCH, "rounds": ROUNDS,
                                         "target_overhead": TARGET_OVERHEAD,
                                         "load_average": {"before": load_before, "after": load_after},
                                         "scenarios": scenarios})
        return 0 if all(s["meets_target"] for s in scenarios.values()) else 1
    finally:
        remove_env(env)


if __name__ == "__main__":
    raise SystemExit(main())
