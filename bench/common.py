"""Shared benchmark helpers: a throw-away environment, real processes, percentiles and results files.

Each benchmark runs the real server (``vinex serve``) and worker (``vinex worker``) against a temporary
SQLite database. Set-up that needs Django runs in a freshly spawned interpreter (``run_in_django``), so
the benchmark process itself never configures Django and several benchmarks can run one after another
in one ``python -m bench`` invocation, each with its own database.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import json
import math
import multiprocessing
import os
import platform
import pstats
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "bench" / "results"
if str(REPO) not in sys.path:  # so that `tests.support` imports when run from elsewhere
    sys.path.insert(0, str(REPO))

T = TypeVar("T")


# --- Environment -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fernet_key() -> str:
    return Fernet.generate_key().decode()


def database_kind(database: str) -> str:
    """``sqlite`` or ``postgresql``, for a benchmark's ``BENCH_DATABASE`` (``sqlite`` or a postgres:// URL)."""
    return "sqlite" if database == "sqlite" else "postgresql"


class AgencySessions:
    """An HTTP session per sending thread (a ``requests.Session`` is not safe to share between threads),
    each authorised with the agency's API key and sending JSON."""

    def __init__(self, token: str) -> None:
        self.token = token
        self._local = threading.local()

    def get(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update({"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
            self._local.session = session
        return session


@dataclass
class BenchEnv:
    """A temporary directory with its own SQLite database and the variables every process shares."""

    directory: Path
    variables: dict[str, str]

    @property
    def database(self) -> Path:
        return self.directory / "bench.sqlite3"

    def log(self, name: str) -> Path:
        return self.directory / f"{name}.log"


def bench_env(*, smtp_port: int | None = None, extra: dict[str, str] | None = None) -> BenchEnv:
    """A fresh directory and the environment the server, the worker and in-process set-up agree on."""
    directory = Path(tempfile.mkdtemp(prefix="vinex-bench-"))
    variables = {
        "VINEX_ENV": "development",
        "VINEX_VAR_DIR": str(directory),
        "VINEX_DATABASE_URL": f"sqlite:///{directory / 'bench.sqlite3'}",
        "VINEX_SECRET_KEY": Fernet.generate_key().decode() + Fernet.generate_key().decode(),
        "VINEX_FIELD_KEY": fernet_key(),
        "VINEX_SMS_PROVIDER": "log",
        "DJANGO_SETTINGS_MODULE": "vinex.settings",
    }
    if smtp_port is not None:
        variables["VINEX_EMAIL_URL"] = f"smtp://127.0.0.1:{smtp_port}"
    variables.update(extra or {})
    return BenchEnv(directory, variables)


def remove_env(env: BenchEnv) -> None:
    if os.environ.get("BENCH_KEEP"):
        print(f"kept {env.directory}")
        return
    shutil.rmtree(env.directory, ignore_errors=True)


# --- Django set-up in a fresh interpreter ----------------------------------------------------------


def _django_init(variables: dict[str, str]) -> None:
    os.environ.update(variables)
    import django

    django.setup()


def run_in_django(env: BenchEnv, function: Callable[..., T], *args: Any) -> T:
    """Run ``function(*args)`` in a new interpreter where Django is set up with ``env``.

    ``function`` must be a module-level function; its arguments and result must pickle.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=_django_init, initargs=(env.variables,)) as pool:
        return pool.submit(function, *args).result()


def migrate() -> None:
    """Create the schema (call inside ``run_in_django``)."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- Processes ------------------------------------------------------------------------------------


def followed_people_setup(pairs: list[tuple[str, str]], *, facilities: Sequence[str] = ("main",)) -> str:
    """Book each ``(agency_subject_id, email)`` of ``pairs`` at the first facility of a new "bench" agency and
    give each a registrant with that one verified email; returns an API key of the agency.

    Runs inside Django (``run_in_django``) on a fresh database: it migrates first.
    """
    from datetime import UTC, datetime, timedelta

    from django.db import transaction

    from vinex.audit.unit import Actor
    from vinex.custody.models import Agency, Facility, Person, Subject
    from vinex.custody.schemas import EventIn
    from vinex.custody.services import apikey_create
    from vinex.notify.services import contact_add, registrant_create, subscription_create
    from vinex.pipeline import IncomingEvent, events_ingest, payload_hash

    migrate()
    agency = Agency.objects.create(code="bench", name="Bench County Sheriff", jurisdiction_code="US-XX-001",
                                   support_name="Bench Victim Services", support_phone="+1 555 010 0100")
    for code in facilities:
        Facility.objects.create(agency=agency, code=code, name=f"Bench County {code.title()}",
                                phone="+1 555 010 0101", timezone="America/New_York")
    booked_at = datetime.now(UTC) - timedelta(days=2)
    raws = [{"event_id": f"book-{key}", "type": "BOOKED", "facility_code": facilities[0],
             "occurred_at": (booked_at + timedelta(milliseconds=i)).isoformat(),
             "subject": {"agency_subject_id": key, "first_name": "Alex", "last_name": "García"}}
            for i, (key, _) in enumerate(pairs)]
    outcomes = events_ingest(agency=agency, actor=Actor.agency(agency.code),
                             events=[IncomingEvent(EventIn.model_validate(r), payload_hash(r)) for r in raws])
    if any(o.status != "accepted" for o in outcomes):
        raise RuntimeError("bookings were not all accepted")
    setup = Actor.system("bench")
    person_of = dict(Subject.objects.filter(agency=agency).values_list("agency_subject_id", "person"))
    for start in range(0, len(pairs), 1_000):
        with transaction.atomic():
            for key, address in pairs[start : start + 1_000]:
                registrant = registrant_create(language="en", actor=setup)
                contact_add(registrant=registrant, channel="email", value=address, verified=True, actor=setup)
                subscription_create(registrant=registrant, person=Person(pk=person_of[key]), status="active",
                                    actor=setup)
    return apikey_create(agency=agency, name="bench", actor=setup)[1]


def vinex_command() -> str:
    candidate = Path(sys.executable).parent / "vinex"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("vinex")
    if found is None:
        raise RuntimeError("the vinex command is not installed in this environment")
    return found


@dataclass
class Service:
    """A child process started by a benchmark, in its own process group so its children stop with it."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: Any = field(repr=False, default=None)

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        if self._log is not None:
            self._log.close()

    def fail(self, message: str) -> RuntimeError:
        """An error for a failed measurement, carrying the end of this service's log."""
        return RuntimeError(f"{message}\n--- end of the {self.name} log ---\n{log_tail(self.log_path)}")

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{log_tail(self.log_path)}")


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start_service(env: BenchEnv, name: str, args: Sequence[str]) -> Service:
    log = env.log(name).open("ab")
    process = subprocess.Popen(
        [vinex_command(), *args],
        env={**os.environ, **env.variables},
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Service(name, process, env.log(name), log)


@contextlib.contextmanager
def services(*started: Callable[[], Service]) -> Iterator[list[Service]]:
    """Start services in order and stop all that started, in reverse order, whatever happens."""
    running: list[Service] = []
    try:
        for start in started:
            running.append(start())
        yield running
    finally:
        for service in reversed(running):
            service.stop()


def start_server(env: BenchEnv, port: int, *, workers: int = 2, threads: int = 4) -> Service:
    args = ["serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads)]
    return start_service(env, "server", args)


def start_worker(env: BenchEnv, name: str = "bench-worker") -> Service:
    return start_service(env, name, ["worker", "--name", name])


def start_scheduler(env: BenchEnv, name: str = "bench-scheduler") -> Service:
    """The periodic jobs, as every deployment runs them: on SQLite one of them copies the write-ahead log
    back into the database file, without which the log grows for the whole run and reads slow down."""
    return start_service(env, name, ["scheduler", "--name", name])


def wait_healthy(base_url: str, service: Service, timeout: float = 60.0) -> None:
    """Wait until ``/healthz`` answers 200, failing fast if the server died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        service.check_alive()
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{base_url}/healthz did not answer within {timeout:.0f} s:\n{log_tail(service.log_path)}")


# --- Figures --------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def machine_info() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def write_results(name: str, results: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    document = {"benchmark": name, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": machine_info(), **results}
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    return path


def profile_tops(profiler: cProfile.Profile, top: int, *, heading: str = "") -> list[str]:
    """A profile's top entries, by cumulative and then by own time, each as printed text."""
    tops = []
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        out.write(heading)
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        tops.append(out.getvalue())
    return tops
