"""Crash campaign: random ``kill -9`` of servers and workers under a stream of events, then an SMTP outage.

Measured from outside, as a deployment would suffer it: 2 server processes (``vinex serve``, one process
each, on their own ports) and 2 workers (``vinex worker``), plus the scheduler, against SQLite or
PostgreSQL. An open-loop sender posts one TRANSFERRED event per request at ``BENCH_RATE`` per second (each
person's events in order; a refused or dropped request is sent again unchanged, to the other server, as
an agency's system would: a re-sent event is a duplicate and notifies nobody twice). Meanwhile
``BENCH_KILLS`` times, every ``BENCH_KILL_EVERY`` seconds, one random server or worker gets ``SIGKILL`` and
is started again at once. Then the SMTP server goes away for ``BENCH_OUTAGE_SECONDS`` while the stream
goes on, and comes back. When the servers answer slower than the rate (a busy machine), at most
``BENCH_MAX_BACKLOG`` events (default: two seconds' worth) wait for an answer; the sender then waits too,
so the campaign runs at the rate the servers take, which is reported, and ends on time.

Every accepted event owes exactly one email to its person's subscriber. A loopback aiosmtpd sink counts
what arrives by notification (the ``X-Vinex-Notification`` header): lost = owed and never received within
``BENCH_DRAIN_SECONDS`` of the end; duplicated = received more than once. The issue's bar: nothing lost,
at most one duplicate per killed worker (the SMTP hand-off's physical limit), none without kills.
Results go to ``bench/results/crash_<database>.json``.

    python -m bench bench_crash                                      # SQLite: 20/s, 100 kills, 10 min outage
    BENCH_DATABASE=postgres://vinex:vinex@127.0.0.1:5432/vinex python -m bench bench_crash   # 200/s
    BENCH_KILLS=10 BENCH_RATE=20 BENCH_OUTAGE_SECONDS=60 python -m bench bench_crash        # a short check
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests
from aiosmtpd.controller import Controller

from bench.common import (
    AgencySessions,
    BenchEnv,
    Service,
    bench_env,
    database_kind,
    free_port,
    remove_env,
    run_in_django,
    start_scheduler,
    start_service,
    wait_healthy,
    write_results,
)
from bench.latency_single import setup_database, transferred
from bench.postgres import postgres_database
from tests.support.smtp import SmtpServer

SENDER_THREADS = 64


@dataclass(frozen=True)
class Settings:
    database: str  # "sqlite" or a postgres:// URL
    rate: float
    kills: int
    kill_every: float
    outage_seconds: float
    drain_seconds: float
    people: int
    seed: int
    max_backlog: int

    @property
    def kind(self) -> str:
        return database_kind(self.database)

    @classmethod
    def from_env(cls) -> Settings:
        database = os.environ.get("BENCH_DATABASE", "sqlite")
        rate = float(os.environ.get("BENCH_RATE", "20" if database == "sqlite" else "200"))
        return cls(
            database=database,
            rate=rate,
            kills=int(os.environ.get("BENCH_KILLS", "100")),
            kill_every=float(os.environ.get("BENCH_KILL_EVERY", "3")),
            outage_seconds=float(os.environ.get("BENCH_OUTAGE_SECONDS", "600")),
            drain_seconds=float(os.environ.get("BENCH_DRAIN_SECONDS", "120")),
            people=int(os.environ.get("BENCH_PEOPLE", "400")),
            seed=int(os.environ.get("BENCH_SEED", "21")),
            max_backlog=int(os.environ.get("BENCH_MAX_BACKLOG", "0")) or int(2 * rate),
        )


# --- The sink ---------------------------------------------------------------------------------------


class Sink:
    """An SMTP server on a fixed loopback port that can go away and come back, keeping its count."""

    def __init__(self) -> None:
        self.server = SmtpServer().start()

    @property
    def port(self) -> int:
        return self.server.port

    def down(self) -> None:
        self.server.stop()

    def up(self) -> None:
        self.server.controller = Controller(self.server.inbox, hostname="127.0.0.1", port=self.server.port)
        self.server.controller.start()

    def received(self) -> Counter[str]:
        """How many times each notification arrived."""
        return Counter(str(m["X-Vinex-Notification"]) for m in list(self.server.inbox.messages))

    def by_recipient(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = defaultdict(set)
        for message in list(self.server.inbox.messages):
            found[str(message["To"])].add(str(message["X-Vinex-Notification"]))
        return found


# --- Processes ----------------------------------------------------------------------------------------


@dataclass
class Fleet:
    env: BenchEnv
    ports: list[int]
    servers: list[Service] = field(default_factory=list)
    workers: list[Service] = field(default_factory=list)
    scheduler: Service | None = None
    restart_seconds: list[float] = field(default_factory=list)
    killed: Counter[str] = field(default_factory=Counter)

    def start(self) -> None:
        self.servers = [self._server(n) for n in range(len(self.ports))]
        self.workers = [self._worker(n) for n in range(2)]
        self.scheduler = start_scheduler(self.env)
        for n, server in enumerate(self.servers):
            wait_healthy(f"http://127.0.0.1:{self.ports[n]}", server)

    def _server(self, n: int) -> Service:
        args = ["serve", "--bind", f"127.0.0.1:{self.ports[n]}", "--workers", "1", "--threads", "8"]
        return start_service(self.env, f"server-{n}", args)

    def _worker(self, n: int) -> Service:
        return start_service(self.env, f"worker-{n}", ["worker", "--name", f"crash-worker-{n}"])

    def kill_one(self, rng: random.Random) -> str:
        """SIGKILL one random server or worker (its whole process group), start it again, wait until up."""
        kind, n = rng.choice([("server", 0), ("server", 1), ("worker", 0), ("worker", 1)])
        victims = self.servers if kind == "server" else self.workers
        with contextlib.suppress(ProcessLookupError):
            os.killpg(victims[n].process.pid, 9)
        victims[n].process.wait()
        victims[n].stop()
        self.killed[kind] += 1
        began = time.monotonic()
        if kind == "server":
            victims[n] = self._server(n)
            wait_healthy(f"http://127.0.0.1:{self.ports[n]}", victims[n])
            self.restart_seconds.append(time.monotonic() - began)
        else:
            victims[n] = self._worker(n)
        return f"{kind}-{n}"

    def stop(self) -> None:
        for service in [*self.workers, *self.servers, *([self.scheduler] if self.scheduler else [])]:
            service.stop()


# --- The stream ---------------------------------------------------------------------------------------


class Stream:
    """Open-loop events, one person's in order; every event is sent until a server answers for it."""

    def __init__(self, urls: list[str], token: str, people: int, max_backlog: int) -> None:
        self.urls = urls
        self.token = token
        self.people = people
        self.sent = [0] * people
        self.answered = [0] * people
        self.resends = 0
        self.last: dict[int, Future[None]] = {}
        self.pool = ThreadPoolExecutor(SENDER_THREADS, thread_name_prefix="stream")
        self.stopping = threading.Event()
        self.max_backlog = max_backlog
        self.outstanding = 0  # released and not yet answered
        self.throttled_seconds = 0.0
        self._lock = threading.Lock()
        self._sessions = AgencySessions(token)

    def _session(self) -> requests.Session:
        return self._sessions.get()

    def _post(self, person: int, number: int, previous: Future[None] | None) -> None:
        try:
            self._post_until_answered(person, number, previous)
        finally:
            with self._lock:
                self.outstanding -= 1

    def _post_until_answered(self, person: int, number: int, previous: Future[None] | None) -> None:
        if previous is not None:
            previous.result()
        body = json.dumps({"events": [transferred(person, number)]}).encode()
        attempt = 0
        while True:
            url = self.urls[(person + attempt) % len(self.urls)]
            try:
                response = self._session().post(url, data=body, timeout=30)
                if response.status_code == 200:
                    result = response.json()
                    if result["accepted"] + result["duplicates"] == 1:
                        with self._lock:
                            self.answered[person] += 1
                        return
                    raise RuntimeError(f"event refused: {response.text[:300]}")
                wait = float(response.headers.get("Retry-After", "0.2"))
            except requests.RequestException:
                self._session().close()
                wait = 0.2
            attempt += 1
            with self._lock:
                self.resends += 1
            time.sleep(wait)

    def run(self, rate: float, until: threading.Event) -> int:
        """Post at ``rate`` per second until ``until`` is set; returns how many events were released.

        Open loop while the servers keep up; when ``max_backlog`` events are released and not yet answered
        (servers slower than the rate, on a busy machine), releases wait for answers instead of queueing
        without bound, and the schedule restarts from there: the campaign then runs at the rate the servers
        take (reported), and ends on time."""
        start, i = time.monotonic(), 0
        while not until.is_set():
            if self.outstanding >= self.max_backlog:
                began = time.monotonic()
                while self.outstanding >= self.max_backlog and not until.is_set():
                    time.sleep(0.01)
                self.throttled_seconds += time.monotonic() - began
                start = time.monotonic() - i / rate
                continue
            due = start + i / rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            person = i % self.people
            number = self.sent[person]
            self.sent[person] += 1
            with self._lock:
                self.outstanding += 1
            self.last[person] = self.pool.submit(self._post, person, number, self.last.get(person))
            i += 1
        return i

    def finish(self) -> None:
        for future in list(self.last.values()):
            future.result()
        self.pool.shutdown(wait=True)


# --- The run ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def database_env(config: Settings, sink: Sink, extra: dict[str, str]) -> Iterator[BenchEnv]:
    if config.kind == "sqlite":
        env = bench_env(smtp_port=sink.port, extra=extra)
        try:
            yield env
        finally:
            remove_env(env)
        return
    with postgres_database(config.database) as url:
        env = bench_env(smtp_port=sink.port, extra={**extra, "VINEX_DATABASE_URL": url})
        try:
            yield env
        finally:
            remove_env(env)


def tally(sink: Sink, stream: Stream) -> dict[str, int]:
    got = sink.by_recipient()
    owed = {f"s{n}@example.org": stream.answered[n] for n in range(stream.people)}
    received = sink.received()
    return {
        "events_accepted": sum(stream.answered),
        "emails_owed": sum(owed.values()),
        "emails_received_once_or_more": sum(min(len(got.get(r, set())), n) for r, n in owed.items()),
        "lost": sum(max(0, n - len(got.get(r, set()))) for r, n in owed.items()),
        "duplicated": sum(count - 1 for count in received.values() if count > 1),
    }


def wait_drained(sink: Sink, stream: Stream, timeout: float) -> float | None:
    """Seconds until every owed email arrived, or None when some are still missing at ``timeout``."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if tally(sink, stream)["lost"] == 0:
            return time.monotonic() - began
        time.sleep(0.25)
    return None


def phase(stream: Stream, rate: float, body: Any) -> tuple[int, float]:
    """Stream events while ``body()`` runs; returns the number of events released and the seconds it took."""
    done = threading.Event()
    released: list[int] = []
    sender = threading.Thread(target=lambda: released.append(stream.run(rate, done)), daemon=True)
    began = time.monotonic()
    sender.start()
    try:
        body()
    finally:
        done.set()
        sender.join()
    return released[0], time.monotonic() - began


def run(config: Settings) -> dict[str, Any]:
    rng = random.Random(config.seed)  # choosing victims, not security
    sink = Sink()
    ports = [free_port(), free_port()]
    try:
        with database_env(config, sink, {}) as env:
            print(f"set-up on {config.kind}: {config.people} people, each with one email subscriber ...", flush=True)
            token = run_in_django(env, setup_database, config.people, 0)
            fleet = Fleet(env, ports)
            fleet.start()
            stream = Stream([f"http://127.0.0.1:{p}/api/v1/custody-events" for p in ports], token, config.people,
                            config.max_backlog)
            try:
                print(f"{config.kills} kills, one every {config.kill_every:g} s, under {config.rate:g} events/s ...",
                      flush=True)

                def kills() -> None:
                    for _ in range(config.kills):
                        time.sleep(config.kill_every)
                        fleet.kill_one(rng)

                released_kills, kills_seconds = phase(stream, config.rate, kills)
                stream.finish()
                drain_kills = wait_drained(sink, stream, config.drain_seconds)
                after_kills = tally(sink, stream)
                print(f"  after the kills: {after_kills}; drained in {drain_kills}", flush=True)

                stream.pool = ThreadPoolExecutor(SENDER_THREADS, thread_name_prefix="stream")
                stream.last = {}
                print(f"SMTP outage of {config.outage_seconds:g} s under the same stream ...", flush=True)
                sink.down()
                released_outage, outage_seconds = phase(stream, config.rate, lambda: time.sleep(config.outage_seconds))
                stream.finish()
                sink.up()
                drain_outage = wait_drained(sink, stream, config.drain_seconds)
                final = tally(sink, stream)
                print(f"  after the outage: {final}; drained in {drain_outage}", flush=True)
                for service in [*fleet.servers, *fleet.workers]:
                    service.check_alive()
            finally:
                fleet.stop()
    finally:
        with contextlib.suppress(Exception):
            sink.down()
    restarts = sorted(fleet.restart_seconds)
    return {
        "database": config.kind,
        "config": {"rate": config.rate, "kills": config.kills, "kill_every_seconds": config.kill_every,
                   "outage_seconds": config.outage_seconds, "drain_seconds": config.drain_seconds,
                   "people": config.people, "seed": config.seed, "max_backlog": config.max_backlog},
        "processes": {"servers": 2, "workers": 2, "scheduler": 1},
        "killed": dict(fleet.killed),
        "server_restart_seconds": {"median": restarts[len(restarts) // 2] if restarts else None,
                                   "max": restarts[-1] if restarts else None},
        "events_released": {"kills": released_kills, "outage": released_outage},
        "release_rate_per_second": {"kills": round(released_kills / kills_seconds, 1),
                                    "outage": round(released_outage / outage_seconds, 1)},
        "sender_waited_for_answers_seconds": round(stream.throttled_seconds, 1),
        "event_resends": stream.resends,
        "after_kills": {**after_kills, "drain_seconds": drain_kills},
        "after_outage": {**final, "drain_seconds_after_smtp_returned": drain_outage},
        "met": final["lost"] == 0 and final["duplicated"] <= fleet.killed["worker"],
    }


def main() -> int:
    # A stopped campaign still stops every process it started (the ``finally`` blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    config = Settings.from_env()
    result = run(config)
    path = write_results(f"crash_{config.kind}", {**result, "note": "figures depend on the machine and on "
                                                                    "what else runs on it"})
    print(f"lost {result['after_outage']['lost']}, duplicated {result['after_outage']['duplicated']} "
          f"(workers killed {result['killed'].get('worker', 0)}); results in {path.relative_to(path.parents[2])}")
    return 0 if result["met"] else 1
