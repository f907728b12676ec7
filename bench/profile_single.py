"""Where a single-event POST spends its CPU: cProfile over the whole request path, in one process.

The same set-up as the single-event latency benchmark (``BENCH_PEOPLE`` people in custody at ``main``,
each followed by their own verified email registrant), then TRANSFERRED events are posted one per request
to the WSGI application ``vinex serve`` runs: middleware, authentication, parsing, ingest, the outbox rows,
the audit entries and the commit, but no HTTP server and no worker. Printed: the SQL statements of one request, CPU
milliseconds per request without the profiler (the figure to compare), and the profile's top entries by
cumulative and by own time.

    python -m bench.profile_single
    BENCH_REQUESTS=2000 BENCH_DATABASE=postgres://vinex:vinex@127.0.0.1:5432/vinex python -m bench.profile_single
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.util import setup_testing_defaults

from bench.common import BenchEnv, profile_tops, run_in_django
from bench.latency_single import setup_database, subject_id, transferred
from bench.postgres import bench_env_on
from bench.procstat import cpu_seconds

TOP = 60


def _env(database: str) -> contextlib.AbstractContextManager[BenchEnv]:
    return bench_env_on(database, {"VINEX_ALLOWED_HOSTS": "testserver"})


def wsgi_post(application: Callable[..., Iterable[bytes]], path: str, body: bytes, token: str) -> tuple[str, bytes]:
    """POST ``body`` (JSON) to ``path`` of a WSGI application, as an HTTP server would: status and content."""
    environ: dict[str, Any] = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SERVER_NAME": "testserver",
                               "HTTP_HOST": "testserver", "REMOTE_ADDR": "127.0.0.1",
                               "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
                               "HTTP_AUTHORIZATION": f"Bearer {token}", "wsgi.input": io.BytesIO(body)}
    setup_testing_defaults(environ)  # the rest of what a server sets, as the handler's tests do
    answer: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
        answer.append(status)
        return io.BytesIO().write

    chunks = application(environ, start_response)
    try:
        content = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return answer[0], content


def profile(people: int, requests: int) -> dict[str, Any]:
    """Set up, warm up, then measure (call inside ``run_in_django``)."""
    import cProfile
    import pstats
    import time

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    token = setup_database(people, 0)
    from vinex.wsgi import application

    sent = [0] * people

    def post(n: int) -> None:
        person = n % people
        event = transferred(person, sent[person], key=subject_id(person))
        sent[person] += 1
        status, content = wsgi_post(application, "/api/v1/custody-events", json.dumps({"events": [event]}).encode(),
                                    token)
        if not status.startswith("200") or b'"accepted":1' not in content:
            raise RuntimeError(f"post failed: {status} {content[:300]!r}")

    done = 0
    for _ in range(50):  # imports, the key memory, the statement caches
        post(done)
        done += 1
    with CaptureQueriesContext(connection) as queries:
        post(done)
        done += 1
    statements = [q["sql"] for q in queries.captured_queries]

    backend = connection.connection.info.backend_pid if connection.vendor == "postgresql" else 0
    backend_before, started = cpu_seconds(backend), time.process_time()
    for _ in range(requests):
        post(done)
        done += 1
    cpu_ms = (time.process_time() - started) * 1000 / requests
    backend_ms = (cpu_seconds(backend) - backend_before) * 1000 / requests if backend else 0.0

    profiler = cProfile.Profile(time.process_time)  # CPU, not the waits for the disk or the lock
    profiler.enable()
    for _ in range(requests):
        post(done)
        done += 1
    profiler.disable()
    tops = profile_tops(profiler, TOP)
    if os.environ.get("BENCH_CALLEES"):  # e.g. render_event_message: where one function's time goes
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative").print_callees(
            os.environ["BENCH_CALLEES"])
        tops.append(out.getvalue())
    if os.environ.get("BENCH_CALLERS"):  # e.g. "connect": who calls a function on every request
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative").print_callers(
            os.environ["BENCH_CALLERS"])
        tops.append(out.getvalue())
    return {"database": connection.vendor, "statements": statements, "cpu_ms": cpu_ms, "backend_ms": backend_ms,
            "requests": requests, "profile": tops}


def main() -> int:
    database = os.environ.get("BENCH_DATABASE", "sqlite")
    people = int(os.environ.get("BENCH_PEOPLE", "400"))
    requests = int(os.environ.get("BENCH_REQUESTS", "1000"))
    with _env(database) as env:
        result = run_in_django(env, profile, people, requests)
    print(f"{result['database']}: {len(result['statements'])} SQL statements in one request:")
    for sql in result["statements"]:
        print(f"  {sql[:160]}")
    print(f"CPU per request (no profiler, {result['requests']} requests): {result['cpu_ms']:.2f} ms"
          + (f", PostgreSQL backend {result['backend_ms']:.2f} ms" if result["backend_ms"] else ""))
    for text in result["profile"]:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
