"""Where a batch of 1,000 events spends its CPU: cProfile over the whole request path, in one process.

The workload of ``bench_ingest`` (mostly BOOKED of new people, one in ten releasing or transferring someone
booked before), posted through Django's test client: middleware, authentication, JSON parsing, validation,
ingest, the audit entries and the commit, but no HTTP server. Printed: the SQL statements of one batch (wall
milliseconds each), CPU milliseconds per batch without the profiler (the figure to compare: on a shared
machine CPU seconds survive a neighbour's load where wall time does not), the CPU and wall milliseconds a
batch holds the write turn (from taking it to the commit: on SQLite the other batches and the sender wait that
long), the profile's top entries by cumulative and by own time, and the same for the write turn alone.

    python -m bench.profile_batch
    BENCH_BATCHES=20 BENCH_DATABASE=postgres://vinex:vinex@127.0.0.1:5432/vinex python -m bench.profile_batch
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from bench.bench_ingest import setup_http_database, workload
from bench.common import BenchEnv, profile_tops, run_in_django
from bench.postgres import bench_env_on

TOP = 45


def _env(database: str) -> contextlib.AbstractContextManager[BenchEnv]:
    return bench_env_on(database, {"VINEX_ALLOWED_HOSTS": "testserver", "VINEX_LOG_LEVEL": "ERROR"})


def profile(batches: int) -> dict[str, Any]:
    """Set up, warm up, then measure (call inside ``run_in_django``)."""
    import cProfile
    import json
    import statistics
    import time

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from vinex.core.gc import tune_for_service
    from vinex.custody.ingest import service

    held: list[tuple[float, float]] = []  # (CPU ms, wall ms) inside the write turn, per batch
    write_turn = service.write_turn
    # While set, profiles only what runs inside the write turn (what other batches and the sender wait for).
    in_turn: list[cProfile.Profile] = []

    @contextlib.contextmanager
    def timed_turn(**kwargs: Any) -> Iterator[None]:
        with write_turn(**kwargs):
            cpu, wall = time.process_time(), time.perf_counter()
            if in_turn:
                in_turn[0].enable()
            try:
                yield
            finally:
                if in_turn:
                    in_turn[0].disable()
                # The turn is left after the transaction commits (write_turn is the outer block).
                held.append(((time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000))

    service.write_turn = timed_turn

    base = datetime.now().astimezone().replace(microsecond=0) - timedelta(days=7)
    # Warm-up (2 batches), one batch whose statements are listed, the timed batches, the profiled ones (whole
    # request, then the write turn alone).
    load = workload(batches=3 + 3 * batches, tag="p", base=base)
    token = setup_http_database(load.prebook)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    bodies = iter([json.dumps({"events": batch}).encode() for batch in load.batches])

    def post() -> None:
        response = client.post("/api/v1/custody-events", next(bodies), content_type="application/json")
        if response.status_code != 200 or b'"accepted":1000' not in response.content:
            raise RuntimeError(f"post failed: {response.status_code} {response.content[:300]!r}")

    tune_for_service()  # as ``vinex serve`` does in each worker process
    post()
    post()
    with CaptureQueriesContext(connection) as queries:
        post()
    statements = _grouped(queries.captured_queries)

    spent = []
    held.clear()
    for _ in range(batches):
        started = time.process_time()
        post()
        spent.append((time.process_time() - started) * 1000)
    cpu_ms, cpu_ms_least = statistics.median(spent), min(spent)
    turn_cpu_ms = statistics.median(h[0] for h in held)
    turn_wall_ms = statistics.median(h[1] for h in held)
    turn_cpu_ms_least = min(h[0] for h in held)

    profiler = cProfile.Profile(time.process_time)  # CPU, not the waits for the disk or the lock
    profiler.enable()
    for _ in range(batches):
        post()
    profiler.disable()
    if os.environ.get("BENCH_PROFILE_OUT"):  # for pstats or snakeviz
        profiler.dump_stats(os.environ["BENCH_PROFILE_OUT"])
    in_turn.append(cProfile.Profile(time.process_time))
    for _ in range(batches):
        post()
    tops = [*profile_tops(profiler, TOP), *profile_tops(in_turn[0], TOP, heading="Inside the write turn only:\n")]
    return {"database": connection.vendor, "statements": statements, "cpu_ms": cpu_ms, "cpu_ms_least": cpu_ms_least,
            "turn_cpu_ms": turn_cpu_ms, "turn_cpu_ms_least": turn_cpu_ms_least, "turn_wall_ms": turn_wall_ms,
            "batches": batches, "profile": tops}


def _grouped(captured: list[dict[str, Any]]) -> list[str]:
    """The statements with their wall milliseconds, a run of statements that differ only in how many rows
    they carry (a multi-row INSERT in parts) as one line."""
    lines: list[tuple[str, int, float]] = []
    for query in captured:
        sql, ms = query["sql"], float(query["time"]) * 1000
        if lines and lines[-1][0][:100] == sql[:100] and sql.startswith("INSERT"):
            lines[-1] = (lines[-1][0], lines[-1][1] + 1, lines[-1][2] + ms)
        else:
            lines.append((sql, 1, ms))
    return [f"{ms:6.1f} ms  {f'{n} statements: ' if n > 1 else ''}{sql}" for sql, n, ms in lines]


def main() -> int:
    database = os.environ.get("BENCH_DATABASE", "sqlite")
    batches = int(os.environ.get("BENCH_BATCHES", "10"))
    with _env(database) as env:
        result = run_in_django(env, profile, batches)
    print(f"{result['database']}: {len(result['statements'])} SQL statements in one batch of 1,000:")
    for sql in result["statements"]:
        print(f"  {sql[:170]}")
    print(f"CPU per batch of 1,000 (no profiler, {result['batches']} batches): median {result['cpu_ms']:.0f} ms, "
          f"least {result['cpu_ms_least']:.0f} ms")
    print(f"inside the write turn, per batch: median {result['turn_cpu_ms']:.0f} ms CPU (least "
          f"{result['turn_cpu_ms_least']:.0f} ms), {result['turn_wall_ms']:.0f} ms wall; "
          f"load average {os.getloadavg()[0]:.2f}")
    for text in result["profile"]:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
