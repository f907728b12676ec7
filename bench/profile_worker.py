"""Where the worker spends its CPU per email: cProfile over ``Worker.run_once`` rounds, in one process.

The same people as the single-event latency benchmark; ``BENCH_ROUND`` TRANSFERRED events (default 20, what
a worker polling every 0.1 s finds at 200 events/s) are posted through Django's test client, then one worker
round claims, sends to a real SMTP server (aiosmtpd on loopback, in another thread of this process) and
records them. Only the rounds are measured, with the process's CPU clock: the SMTP server runs in the parent
process, so what is counted is the worker's round and its sending threads. Printed: CPU milliseconds per
email without the profiler (the figure to compare) and the profile's top entries, sending threads included.

    python -m bench.profile_worker
    BENCH_EMAILS=4000 BENCH_DATABASE=postgres://vinex:vinex@127.0.0.1:5432/vinex python -m bench.profile_worker
"""

from __future__ import annotations

import os
import sys
from typing import Any

from bench.common import profile_tops, run_in_django
from bench.latency_single import setup_database, subject_id, transferred
from bench.postgres import bench_env_on
from bench.procstat import cpu_seconds
from tests.support.smtp import SmtpServer

TOP = 50


def profile(people: int, emails: int, per_round: int) -> dict[str, Any]:
    """Set up, warm up, then measure (call inside ``run_in_django``)."""
    import cProfile
    import threading
    import time

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from vinex.notify.worker import Worker

    token = setup_database(people, 0)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    sent = [0] * people
    posted = 0

    def post_round() -> None:
        nonlocal posted
        for _ in range(per_round):
            person = posted % people
            event = transferred(person, sent[person], key=subject_id(person))
            sent[person] += 1
            posted += 1
            response = client.post("/api/v1/custody-events", {"events": [event]}, content_type="application/json")
            if response.status_code != 200:
                raise RuntimeError(f"post failed: {response.status_code} {response.content[:300]!r}")

    profiler = cProfile.Profile(time.process_time)
    profiling = threading.Event()

    def thread_profile(*_: object) -> None:
        # The worker's sending threads start at its first round: each turns the profiler on for itself
        # (one profiler for all threads; its entries still sum each function's time).
        sys.setprofile(None)
        if profiling.is_set():
            profiler.enable()

    threading.setprofile(thread_profile)
    worker = Worker(name="profile-worker")

    backend_used = [0.0]  # CPU of the PostgreSQL backend serving the rounds (posting left out)

    def rounds(count: int) -> float:
        """CPU seconds of the worker's rounds alone (the process's clock, posting left out)."""
        used = 0.0
        for _ in range(count):
            post_round()
            backend = connection.connection.info.backend_pid if connection.vendor == "postgresql" else 0
            backend_before, started = cpu_seconds(backend), time.process_time()
            if profiling.is_set():
                profiler.enable()
            handled = worker.run_once()
            if profiling.is_set():
                profiler.disable()
            used += time.process_time() - started
            backend_used[0] += cpu_seconds(backend) - backend_before if backend else 0.0
            if handled != per_round:
                raise RuntimeError(f"a round handled {handled} of {per_round}")
        return used

    rounds(3)  # connections, imports, statement caches
    post_round()
    with CaptureQueriesContext(connection) as queries:  # the round's own connection: claims and records
        worker.run_once()
    statements = [q["sql"] for q in queries.captured_queries]
    count = max(1, emails // per_round)
    backend_used[0] = 0.0
    cpu = rounds(count)
    backend_ms = backend_used[0] * 1000 / (count * per_round)
    worker.close()
    # A fresh worker whose sending thread starts with the profiler on; one thread, so that the process clock
    # the profiler reads runs for one thread at a time (the round's thread waits while it sends).
    profiling.set()
    worker = Worker(name="profile-worker-2", threads=1)
    rounds(count)
    worker.close()
    tops = profile_tops(profiler, TOP)
    return {"cpu_ms": cpu * 1000 / (count * per_round), "emails": count * per_round, "profile": tops,
            "backend_ms": backend_ms, "statements": statements}


def main() -> int:
    database = os.environ.get("BENCH_DATABASE", "sqlite")
    people = int(os.environ.get("BENCH_PEOPLE", "400"))
    emails = int(os.environ.get("BENCH_EMAILS", "2000"))
    per_round = int(os.environ.get("BENCH_ROUND", "20"))
    smtp = SmtpServer().start()
    try:
        extra = {"VINEX_ALLOWED_HOSTS": "testserver", "VINEX_EMAIL_URL": smtp.url}
        with bench_env_on(database, extra) as env:
            result = run_in_django(env, profile, people, emails, per_round)
    finally:
        smtp.stop()
    print(f"{len(result['statements'])} SQL statements in one round of {per_round}:")
    for sql in result["statements"]:
        print(f"  {sql[:160]}")
    print(f"worker rounds of {per_round}: {result['cpu_ms']:.2f} ms of CPU per email ({result['emails']} emails, "
          "no profiler)" + (f", PostgreSQL backend {result['backend_ms']:.2f} ms" if result["backend_ms"] else ""))
    for text in result["profile"]:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
