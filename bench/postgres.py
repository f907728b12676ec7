"""A throw-away PostgreSQL database for a benchmark, created on the server a URL names.

``BENCH_DATABASE=postgres://user:password@host:port/name`` runs a benchmark on PostgreSQL: the benchmark
creates ``<name>_bench`` on that server (the way the tests create ``test_<name>``), and drops it after.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.common import BenchEnv, bench_env, remove_env
from bench.procstat import cpu_seconds


def _admin_connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


@contextlib.contextmanager
def postgres_database(url: str) -> Iterator[str]:
    """Create a fresh database beside the one ``url`` names; yields its URL and drops it afterwards."""
    from psycopg import sql

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'vinex'}_bench"
    fresh = urlunsplit(parts._replace(path=f"/{name}"))
    admin = urlunsplit(parts._replace(path="/postgres"))
    with _admin_connect(admin) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield fresh
    finally:
        with _admin_connect(admin) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def bench_env_on(database: str, extra: dict[str, str]) -> Iterator[BenchEnv]:
    """A benchmark's environment on SQLite (``database == "sqlite"``) or on a fresh PostgreSQL database made
    from the ``postgres://`` URL ``database`` and dropped afterwards."""
    if database == "sqlite":
        env = bench_env(extra=extra)
        try:
            yield env
        finally:
            remove_env(env)
        return
    with postgres_database(database) as url:
        env = bench_env(extra={**extra, "VINEX_DATABASE_URL": url})
        try:
            yield env
        finally:
            remove_env(env)


# --- CPU of the PostgreSQL backends -------------------------------------------------------------------
# On a shared server the postgres processes serve other databases too, so a benchmark counts only the
# backends connected to its own database: their pids come from pg_stat_activity, their CPU from /proc
# (readable on the same machine). A backend that exits between two samples loses what it used since the
# last one, so connections are sampled often; vinex's connections live across requests (CONN_MAX_AGE).


class BackendCpu:
    """CPU seconds used by the backends serving one database (``seconds``), and by the server's own processes
    that serve every database (``shared_seconds``: WAL writer, checkpointer, background writer), sampled in a
    thread while in use.

        with BackendCpu(url) as backends:
            ...
        backends.seconds, backends.shared_seconds  # over the block
    """

    def __init__(self, url: str, every: float = 0.25) -> None:
        self.url = url
        self.every = every
        self.database = urlsplit(url).path.lstrip("/")
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._shared: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.seconds = 0.0
        self.shared_seconds = 0.0

    def _sample(self, connection: Any, *, first: bool = False) -> None:
        rows = connection.execute("SELECT pid, datname IS NULL FROM pg_stat_activity "
                                  "WHERE (datname = %s OR datname IS NULL) AND pid <> pg_backend_pid()",
                                  [self.database]).fetchall()
        for pid, shared in rows:
            seconds = cpu_seconds(pid)
            if first:
                self._first[pid] = seconds
            self._last[pid] = max(seconds, self._last.get(pid, 0.0))
            if shared:
                self._shared.add(pid)

    def __enter__(self) -> BackendCpu:
        admin = urlunsplit(urlsplit(self.url)._replace(path="/postgres"))
        connection = _admin_connect(admin)
        self._sample(connection, first=True)

        def loop() -> None:
            try:
                while not self._stop.wait(self.every):
                    self._sample(connection)
                self._sample(connection)
            finally:
                connection.close()

        self._thread = threading.Thread(target=loop, name="backend-cpu", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        used = {pid: last - self._first.get(pid, 0.0) for pid, last in self._last.items()}
        self.seconds = sum(s for pid, s in used.items() if pid not in self._shared)
        self.shared_seconds = sum(s for pid, s in used.items() if pid in self._shared)
