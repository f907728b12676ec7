"""Single events at peak: one TRANSFERRED event per request, open loop, event → email handed to SMTP.

Agencies' jail-management systems push each booking or release as it happens. This mode measures that
from outside: ``BENCH_PEOPLE`` (≥ 400) people in custody, each followed by a registrant with a verified
email address of their own (``s<n>@example.org``); an open-loop sender releases one TRANSFERRED event per
request on schedule at ``BENCH_RATE`` per second for ``BENCH_SECONDS``, whatever earlier answers did (a
request waits for a free connection only when ``SENDER_THREADS`` are all busy, and that wait counts in
the latency measured from the schedule). One person's events go in order: the next is posted once the
previous one was answered, as an agency's system sends them. A client that is told 503 or 429 waits for
``Retry-After`` and sends the same event again, so nothing is lost.

The person's k-th email is the answer to their k-th event (the worker sends one recipient's messages in
the order they were queued), so the latency of an event is the arrival of that email at the SMTP server
minus the start of its POST. Reported: that latency's distribution, POST p50/p99, CPU seconds of every
process and per request (CPU seconds ÷ requests, which a busy machine disturbs less than latency), and,
with ``BENCH_RATES=100,200,300``, the rate at which the target breaks.

Processes, as deployed: on SQLite the ``make run`` defaults (one ``vinex serve`` with its default
processes, one ``vinex worker``, the scheduler); on PostgreSQL (``BENCH_DATABASE=postgres://…``) the same
server and two workers. Results go to ``bench/results/latency_single_<database>.json``.

    BENCH_RATE=200 BENCH_SECONDS=60 python -m bench bench_latency
    BENCH_DATABASE=postgres://vinex:vinex@127.0.0.1:5432/vinex python -m bench bench_latency
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from http.client import HTTPConnection, HTTPException
from typing import Any
from urllib.parse import urlsplit

from bench.common import (
    BenchEnv,
    Service,
    bench_env,
    database_kind,
    followed_people_setup,
    free_port,
    percentile,
    remove_env,
    run_in_django,
    services,
    start_scheduler,
    start_server,
    start_service,
    wait_healthy,
    write_results,
)
from bench.postgres import BackendCpu, postgres_database
from bench.procstat import cpu_used, tree_cpu_seconds
from tests.support.smtp import SmtpServer

TARGET_P99_SECONDS = 1.0
WARM_PEOPLE = 20
SENDER_THREADS = 96  # connections the open-loop sender may hold at once
DRAIN_SECONDS = 15.0
FACILITIES = ("main", "annex")


@dataclass(frozen=True)
class Settings:
    rates: list[float]
    seconds: float
    people: int
    database: str  # "sqlite" or a postgres:// URL
    server_processes: int
    server_threads: int
    workers: int

    @property
    def kind(self) -> str:
        return database_kind(self.database)

    @classmethod
    def from_env(cls) -> Settings:
        database = os.environ.get("BENCH_DATABASE", "sqlite")
        rates = os.environ.get("BENCH_RATES") or os.environ.get("BENCH_RATE", "200")
        return cls(
            rates=[float(r) for r in rates.split(",") if r.strip()],
            seconds=float(os.environ.get("BENCH_SECONDS", "60")),
            people=max(400, int(os.environ.get("BENCH_PEOPLE", "400"))),
            database=database,
            server_processes=int(os.environ.get("BENCH_SERVER_PROCESSES", "2")),
            server_threads=int(os.environ.get("BENCH_SERVER_THREADS", "4")),
            workers=int(os.environ.get("BENCH_WORKERS", "1" if database == "sqlite" else "2")),
        )


def subject_id(n: int) -> str:
    return f"S{n}"


def recipient(n: int) -> str:
    return f"s{n}@example.org"


def warm_subject_id(n: int) -> str:
    return f"SW{n}"


def warm_recipient(n: int) -> str:
    return f"sw{n}@example.org"


# --- Set-up (in a fresh interpreter, see run_in_django) --------------------------------------------


def setup_database(people: int, warm: int) -> str:
    """Book everyone at ``main``, give each a registrant with one verified email; returns an API key."""
    pairs = [(warm_subject_id(n), warm_recipient(n)) for n in range(warm)]
    return followed_people_setup(pairs + [(subject_id(n), recipient(n)) for n in range(people)], facilities=FACILITIES)


# --- The open-loop sender ---------------------------------------------------------------------------


@dataclass
class Post:
    person: int
    number: int  # the person's k-th event of the run (0-based), answered by their k-th email
    due: float  # wall clock the post was scheduled for
    started: float = 0.0  # wall clock the first attempt started
    seconds: float = 0.0  # from the first attempt to the final answer (retries included)
    retries: int = 0
    problem: str = ""


@dataclass
class People:
    """Each person's events so far: where they are now and their last post (the next waits for it)."""

    count: int
    sent: list[int] = field(default_factory=list)
    last: dict[int, Future[Post]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sent = [0] * self.count


def transferred(person: int, number: int, *, key: str | None = None) -> dict[str, Any]:
    """The person's ``number``-th move: main → annex, then back, and so on."""
    origin, target = (FACILITIES if number % 2 == 0 else FACILITIES[::-1])
    key = key or subject_id(person)
    return {
        "event_id": f"move-{key}-{number}", "type": "TRANSFERRED", "facility_code": origin,
        "to_facility_code": target, "occurred_at": datetime.now(UTC).isoformat(),
        "subject": {"agency_subject_id": key, "first_name": "Alex", "last_name": "García"},
    }


class Sender:
    """Posts one event per request over a keep-alive connection per sending thread.

    ``http.client`` rather than ``requests``: the sender shares the machine's two cores with the system it
    measures, and a leaner client leaves more of them to the server, as an agency's system on its own
    machine would.
    """

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._local = threading.local()
        self.pool = ThreadPoolExecutor(SENDER_THREADS, thread_name_prefix="sender")

    def _exchange(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """One request and its answer; a connection the server closed is opened again once."""
        for attempt in (1, 2):
            connection = getattr(self._local, "connection", None)
            if connection is None:
                connection = self._local.connection = HTTPConnection(self.host, self.port, timeout=60)
            try:
                connection.request("POST", self.path, body=body, headers=self.headers)
                response = connection.getresponse()
                content = response.read()
            except (OSError, HTTPException):
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise
                continue
            return response.status, {k.lower(): v for k, v in response.getheaders()}, content
        raise AssertionError("unreachable")

    def post_one(self, event: dict[str, Any], post: Post, previous: Future[Post] | None) -> Post:
        if previous is not None:
            previous.result()  # one person's events in order, as the agency's system sends them
        body = json.dumps({"events": [event]}).encode()
        post.started = time.time()
        began = time.perf_counter()
        while True:
            try:
                status, headers, content = self._exchange(body)
            except (OSError, HTTPException) as error:
                post.problem = f"{type(error).__name__}: {error}"
                return post
            if status in (429, 503) and "retry-after" in headers:
                # Told to come back later: the event was not taken, so it is sent again unchanged.
                post.retries += 1
                time.sleep(float(headers["retry-after"]))
                continue
            break
        post.seconds = time.perf_counter() - began
        if status != 200:
            post.problem = f"HTTP {status}: {content[:300]!r}"
        elif json.loads(content)["accepted"] != 1:
            post.problem = f"not accepted: {content[:300]!r}"
        return post

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def send_open_loop(sender: Sender, people: People, rate: float, seconds: float) -> tuple[list[Post], float]:
    """Release ``rate × seconds`` events on schedule, people in turn; returns the posts and the worst lag
    of a release behind its schedule."""
    total = int(rate * seconds)
    futures: list[Future[Post]] = []
    posts: list[Post] = []
    start_mono, start_wall = time.monotonic(), time.time()
    worst_lag = 0.0
    for i in range(total):
        offset = i / rate
        now = time.monotonic()
        if start_mono + offset > now:
            time.sleep(start_mono + offset - now)
        else:
            worst_lag = max(worst_lag, now - start_mono - offset)
        person = i % people.count
        post = Post(person, people.sent[person], start_wall + offset)
        people.sent[person] += 1
        event = transferred(person, post.number)
        future = sender.pool.submit(sender.post_one, event, post, people.last.get(person))
        people.last[person] = future
        futures.append(future)
        posts.append(post)
    for future in futures:
        future.result()
    return posts, worst_lag


# --- Emails -----------------------------------------------------------------------------------------


def arrivals_by_recipient(smtp: SmtpServer) -> dict[str, list[float]]:
    found: dict[str, list[float]] = defaultdict(list)
    for message, at in zip(list(smtp.inbox.messages), list(smtp.inbox.received_at), strict=False):
        found[str(message["To"])].append(at)
    return found


def wait_for_emails(smtp: SmtpServer, expected: dict[str, int], timeout: float) -> dict[str, list[float]]:
    deadline = time.monotonic() + timeout
    while True:
        got = arrivals_by_recipient(smtp)
        if all(len(got.get(r, [])) >= n for r, n in expected.items()) or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


# --- One step at one rate ---------------------------------------------------------------------------


@dataclass
class Running:
    smtp: SmtpServer
    sender: Sender
    people: People
    server: Service
    workers: list[Service]
    scheduler: Service
    database_url: str = ""  # PostgreSQL's, whose backends' CPU is counted too
    emails_before: dict[str, int] = field(default_factory=dict)

    def processes(self) -> dict[str, Service]:
        return {"server": self.server, **{w.name: w for w in self.workers}, "scheduler": self.scheduler}


def cpu_readings(running: Running) -> dict[str, dict[int, float]]:
    return {name: tree_cpu_seconds(service.process.pid) for name, service in running.processes().items()}


def own_cpu_seconds() -> float:
    """This process's CPU: the sender's threads and the SMTP server receiving the emails."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def step(running: Running, rate: float, seconds: float) -> dict[str, Any]:
    backends = BackendCpu(running.database_url) if running.database_url else contextlib.nullcontext()
    with backends:
        cpu_before = cpu_readings(running)
        own_before = own_cpu_seconds()
        posts, worst_lag = send_open_loop(running.sender, running.people, rate, seconds)
        cpu_after = cpu_readings(running)
    own_sending = own_cpu_seconds() - own_before
    wall = max(p.started + p.seconds for p in posts) - min(p.due for p in posts)
    expected = {recipient(n): running.people.sent[n] for n in range(running.people.count)}
    got = wait_for_emails(running.smtp, expected, DRAIN_SECONDS)
    latencies, from_schedule, missing = [], [], 0
    for post in posts:
        times = got.get(recipient(post.person), [])
        if post.number < len(times):
            latencies.append(times[post.number] - post.started)
            from_schedule.append(times[post.number] - post.due)
        else:
            missing += 1
    extra = sum(max(0, len(got.get(r, [])) - n) for r, n in expected.items())
    cpu = {name: sum(cpu_used(cpu_before[name], cpu_after[name]).values()) for name in cpu_before}
    if isinstance(backends, BackendCpu):
        # The backends serving this database (server and workers alike), and apart the server's processes
        # that serve every database on it (WAL writer, checkpointer: other users' work shows there too).
        cpu["postgres"], cpu["postgres_shared"] = backends.seconds, backends.shared_seconds
    per_process = {f"{name}:{pid}": round(s, 3) for name in cpu_before
                   for pid, s in cpu_used(cpu_before[name], cpu_after[name]).items()}
    answered = [p for p in posts if not p.problem]
    post_seconds = [p.seconds for p in answered]
    result: dict[str, Any] = {
        "rate_target": rate,
        "seconds": seconds,
        "events_sent": len(posts),
        "send_rate": len(posts) / wall if wall > 0 else float("nan"),
        "emails_expected": len(posts),
        "emails_delivered": len(posts) - missing,
        "duplicate_emails": extra,
        "posts_failed": len(posts) - len(answered),
        "retries_after_503_or_429": sum(p.retries for p in posts),
        "sender_worst_lag_seconds": worst_lag,
        "post_seconds": {"p50": percentile(post_seconds, 50), "p99": percentile(post_seconds, 99),
                         "max": max(post_seconds, default=float("nan"))},
        "latency_seconds": _distribution(latencies),
        "latency_from_schedule_seconds": _distribution(from_schedule),
        "cpu_seconds": {name: round(s, 3) for name, s in cpu.items()},
        "cpu_seconds_by_process": per_process,
        "cpu_utilisation": {name: round(s / wall, 3) for name, s in cpu.items()} if wall > 0 else {},
        # The benchmark shares the two cores with what it measures: its own share, while sending.
        "bench_cpu_seconds_sender_and_smtp": round(own_sending, 3),
        "server_cpu_ms_per_request": 1000 * cpu["server"] / len(posts) if posts else float("nan"),
        "worker_cpu_ms_per_email": (1000 * sum(s for n, s in cpu.items() if n.startswith("bench-worker"))
                                    / max(1, len(posts) - missing)),
        "problems": [p.problem for p in posts if p.problem][:5],
    }
    if "postgres" in cpu:
        result["postgres_cpu_ms_per_request"] = 1000 * cpu["postgres"] / len(posts) if posts else float("nan")
    # Judged from each event's scheduled release too: past capacity the sender falls behind its schedule
    # (all its connections busy, or a person's previous event unanswered), and latency counted only from
    # the POST would hide that wait.
    result["met"] = (missing == 0 and extra == 0 and not result["posts_failed"]
                     and result["latency_seconds"]["p99"] < TARGET_P99_SECONDS
                     and result["latency_from_schedule_seconds"]["p99"] < TARGET_P99_SECONDS)
    return result


def _distribution(values: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 50), "p90": percentile(values, 90), "p95": percentile(values, 95),
        "p99": percentile(values, 99), "max": max(values, default=float("nan")),
        "mean": sum(values) / len(values) if values else float("nan"),
    }


# --- The run ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def database_env(config: Settings, smtp: SmtpServer) -> Iterator[BenchEnv]:
    if config.kind == "sqlite":
        env = bench_env(smtp_port=smtp.port)
        try:
            yield env
        finally:
            remove_env(env)
        return
    with postgres_database(config.database) as url:
        env = bench_env(smtp_port=smtp.port, extra={"VINEX_DATABASE_URL": url})
        try:
            yield env
        finally:
            remove_env(env)


def warm_up(running: Running) -> None:
    """Every server process loads the API and the worker opens its SMTP connections."""
    futures = [running.sender.pool.submit(running.sender.post_one, transferred(n, 0, key=warm_subject_id(n)),
                                          Post(n, 0, time.time()), None) for n in range(WARM_PEOPLE)]
    problems = [p.problem for p in (f.result() for f in futures) if p.problem]
    if problems:
        raise running.server.fail(f"warm-up posts failed: {problems[0][:300]}")
    wait_for_emails(running.smtp, {warm_recipient(n): 1 for n in range(WARM_PEOPLE)}, 30)


def run(config: Settings) -> dict[str, Any]:
    smtp = SmtpServer().start()
    try:
        with database_env(config, smtp) as env:
            print(f"set-up on {config.kind}: {config.people:,} people in custody, each with their own verified "
                  "email subscriber ...", flush=True)
            token = run_in_django(env, setup_database, config.people, WARM_PEOPLE)
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            starts: list[Callable[[], Service]] = [
                partial(start_server, env, port, workers=config.server_processes, threads=config.server_threads)]
            starts += [partial(start_service, env, f"bench-worker-{n}", ["worker", "--name", f"bench-worker-{n}"])
                       for n in range(1, config.workers + 1)]
            starts.append(partial(start_scheduler, env))
            with services(*starts) as started:
                server, *workers, scheduler = started
                wait_healthy(base_url, server)
                sender = Sender(f"{base_url}/api/v1/custody-events", token)
                running = Running(smtp, sender, People(config.people), server, workers, scheduler,
                                  env.variables["VINEX_DATABASE_URL"] if config.kind == "postgresql" else "")
                try:
                    warm_up(running)
                    steps = []
                    for rate in config.rates:
                        print(f"posting single TRANSFERRED events at {rate:.0f}/s for {config.seconds:.0f} s ...",
                              flush=True)
                        steps.append(step(running, rate, config.seconds))
                        _print_step(steps[-1])
                        for service in started:
                            service.check_alive()
                finally:
                    sender.close()
    finally:
        smtp.stop()
    met = [s["rate_target"] for s in steps if s["met"]]
    broken = [s["rate_target"] for s in steps if not s["met"]]
    return {
        "mode": "single",
        "database": config.kind,
        "people": config.people,
        "processes": {"server": f"{_server_name(config.server_threads)}, {config.server_processes} processes × "
                                f"{config.server_threads} threads",
                      "workers": config.workers, "scheduler": 1},
        "steps": steps,
        "highest_rate_met": max(met, default=None),
        "breaking_rate": min(broken, default=None),
    }


def _server_name(threads: int) -> str:
    from vinex.site.management.commands.serve import server_for

    return server_for(threads=threads, choice=os.environ.get("VINEX_SERVER", ""))


def _print_step(s: dict[str, Any]) -> None:
    latency, post = s["latency_seconds"], s["post_seconds"]
    print(f"  sent {s['events_sent']:,} at {s['send_rate']:.0f}/s; emails {s['emails_delivered']:,} of "
          f"{s['emails_expected']:,} (duplicates {s['duplicate_emails']}, retries {s['retries_after_503_or_429']})")
    print(f"  event -> email: p50 {latency['p50'] * 1000:.0f} ms, p99 {latency['p99'] * 1000:.0f} ms, "
          f"max {latency['max'] * 1000:.0f} ms; POST p50 {post['p50'] * 1000:.1f} ms, p99 {post['p99'] * 1000:.1f} ms")
    scheduled = s["latency_from_schedule_seconds"]
    print(f"  from each event's scheduled release: p50 {scheduled['p50'] * 1000:.0f} ms, "
          f"p99 {scheduled['p99'] * 1000:.0f} ms (releases lagged up to {s['sender_worst_lag_seconds']:.2f} s)")
    print(f"  CPU s: {s['cpu_seconds']}, this benchmark (sender and SMTP) {s['bench_cpu_seconds_sender_and_smtp']}; "
          f"server {s['server_cpu_ms_per_request']:.2f} ms per request; "
          + (f"PostgreSQL backends {s['postgres_cpu_ms_per_request']:.2f} ms per request; "
             if "postgres_cpu_ms_per_request" in s else "")
          + f"{'met' if s['met'] else 'BELOW TARGET'}", flush=True)
    for problem in s["problems"]:
        print(f"  problem: {problem}")


def main() -> int:
    config = Settings.from_env()
    result = run(config)
    met = all(s["met"] for s in result["steps"])
    path = write_results(f"latency_single_{config.kind}", {
        **result,
        "note": "figures depend on the machine and on what else runs on it",
        "targets": {"p99_seconds": TARGET_P99_SECONDS, "all_delivered": True, "server_cpu_ms_per_request": 3.0},
        "met": met,
    })
    print(f"highest rate met: {result['highest_rate_met']}; breaking rate: {result['breaking_rate']}; "
          f"results in {path.relative_to(path.parents[2])}")
    return 0 if met else 1
