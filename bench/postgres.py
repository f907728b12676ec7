"""A throw-away PostgreSQL database for a benchmark, created on the server a URL names.

``BENCH_DATABASE=postgres://user:password@host:port/name`` runs a benchmark on PostgreSQL: the benchmark
creates ``<name>_bench`` on that server (the way the tests create ``test_<name>``), and drops it after.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.common import BenchEnv, bench_env, remove_env


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
