"""Backing up and restoring the whole database: SQLite's online backup, PostgreSQL's pg_dump/pg_restore.

A backup is one file: an SQLite database, or a PostgreSQL custom-format archive. Restore reads the file's
first bytes to tell which, and refuses to mix them up or to overwrite a database that already holds
tables unless told to. Secrets (``VINEX_SECRET_KEY``, ``VINEX_FIELD_KEY``, the audit signing key) are not
in the database: a restored database is readable only with the keys it was written with.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import DatabaseError, connection

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
_MAGIC = {SQLITE: b"SQLite format 3\x00", POSTGRESQL: b"PGDMP"}
ENGINE_NAMES = {SQLITE: "SQLite", POSTGRESQL: "PostgreSQL"}
# How long SQLite waits for a writer (the server, the worker) before giving up on a lock.
_SQLITE_BUSY_SECONDS = 30.0


class BackupError(Exception):
    """A backup or restore that did not happen; the message says why and what to do.

    ``usage`` is True when nothing was attempted because of what was asked (a missing tool, a file that
    is not a backup, a database that is not empty), False when the copy itself failed.
    """

    def __init__(self, message: str, *, usage: bool = True) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True)
class BackupResult:
    engine: str
    database: str
    path: Path
    size: int


@dataclass(frozen=True)
class RestoreResult:
    engine: str
    database: str
    path: Path
    replaced_tables: int  # tables the database held before (0 unless forced)
    tables: int


def database_backup(*, out: Path) -> BackupResult:
    """Copy the configured database into the file ``out``, consistent as of one moment.

    Safe while the server and the worker write: SQLite copies in one read transaction, pg_dump in one
    snapshot. The file appears only once the copy is complete, so a failed backup leaves no partial file.
    """
    engine = _engine()
    out = out.resolve()
    if out.is_dir():
        raise BackupError(f"{out} is a directory; name the backup file")
    if not out.parent.is_dir():
        raise BackupError(f"no directory {out.parent}")
    partial = out.with_name(out.name + ".partial")
    try:
        if engine == SQLITE:
            _sqlite_backup(source=_database_name(), out=partial)
        else:
            _run(_tool("pg_dump"), "--format=custom", f"--file={partial}", what="pg_dump")
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(engine=engine, database=_database_label(), path=out, size=out.stat().st_size)


def database_restore(*, source: Path, force: bool = False) -> RestoreResult:
    """Replace the configured database's content with the backup in ``source``.

    Refuses a database that already holds tables unless ``force``. The server, the worker and the
    scheduler must be stopped meanwhile (on SQLite a database still in use is refused).
    """
    engine = _engine()
    source = source.resolve()
    kind = backup_kind(path=source)
    if kind != engine:
        raise BackupError(f"{source} is a backup from {ENGINE_NAMES[kind]}, but the configured database is "
                          f"{ENGINE_NAMES[engine]}; set VINEX_DATABASE_URL to a {ENGINE_NAMES[kind]} database")
    existing = _table_count()
    if existing and not force:
        raise BackupError(f"the database {_database_label()} is not empty (it holds {existing} tables); restore into "
                          "an empty database, or pass --force to replace what it holds")
    connection.close()  # nothing of ours may hold the database while it is replaced
    if engine == SQLITE:
        _sqlite_restore(source=source, target=_database_name())
    else:
        clean = ["--clean", "--if-exists"] if existing else []
        _run(_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
             *clean, f"--dbname={_database_name()}", str(source), what="pg_restore")
    return RestoreResult(engine=engine, database=_database_label(), path=source, replaced_tables=existing,
                         tables=_table_count())


def backup_kind(*, path: Path) -> str:
    """``sqlite`` or ``postgresql``: which database wrote the backup file, read from its first bytes."""
    try:
        with path.open("rb") as file:
            head = file.read(16)
    except OSError as error:
        raise BackupError(f"cannot read {path}: {error.strerror}") from None
    for engine, magic in _MAGIC.items():
        if head.startswith(magic):
            return engine
    raise BackupError(f"{path} is not a vinex backup (neither an SQLite database nor a pg_dump custom archive)")


def _engine() -> str:
    if connection.vendor not in _MAGIC:
        raise BackupError(f"backups are made for SQLite and PostgreSQL, not {connection.vendor}")
    return connection.vendor


def _database_name() -> str:
    return str(connection.settings_dict["NAME"])


def _database_label() -> str:
    """The database as an operator knows it: a file, or a name on a host (never the password)."""
    if connection.vendor == SQLITE:
        return _database_name()
    settings = connection.settings_dict
    return f"{settings['NAME']} on {settings['HOST'] or 'localhost'}:{settings['PORT'] or 5432}"


def _table_count() -> int:
    try:
        with connection.cursor() as cursor:
            return len(connection.introspection.table_names(cursor))
    except DatabaseError as error:
        # Most often a PostgreSQL database not created yet (createdb) or a wrong password.
        raise BackupError(f"cannot open the database {_database_label()}: {str(error).strip()}") from None


def _sqlite_backup(*, source: str, out: Path) -> None:
    reader = sqlite3.connect(source, timeout=_SQLITE_BUSY_SECONDS)
    copy = sqlite3.connect(out)
    try:
        # One step: all pages inside one read transaction, so the copy is one moment's state while
        # writers carry on in the write-ahead log.
        reader.backup(copy)
        # One self-contained file, whatever the journal mode of the live database.
        copy.execute("PRAGMA journal_mode=DELETE")
        _sqlite_check(copy, what="the backup")
    except sqlite3.Error as error:
        raise BackupError(f"the SQLite backup failed: {error}", usage=False) from None
    finally:
        copy.close()
        reader.close()


def _sqlite_restore(*, source: Path, target: str) -> None:
    try:
        backup = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
        database = sqlite3.connect(target, timeout=5)
    except sqlite3.Error as error:
        raise BackupError(f"cannot open {target}: {error}") from None
    try:
        _sqlite_check(backup, what=str(source))
        _sqlite_take_over(database, target=target)
        backup.backup(database)  # one step, one transaction: a failure leaves the database as it was
        database.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as error:
        raise BackupError(f"the SQLite restore failed: {error}", usage=False) from None
    finally:
        database.close()
        backup.close()


def _sqlite_take_over(database: sqlite3.Connection, *, target: str) -> None:
    """Leave write-ahead logging, which needs the database to ourselves: a server or worker still
    connected makes SQLite keep WAL (or report the lock), and the restore stops there rather than
    replace pages under a running process."""
    try:
        (mode,) = database.execute("PRAGMA journal_mode=DELETE").fetchone()
    except sqlite3.OperationalError:
        mode = "locked"
    if mode != "delete":
        raise BackupError(f"the database {target} is in use; stop vinex serve, worker and scheduler, then restore")


def _sqlite_check(database: sqlite3.Connection, *, what: str) -> None:
    (verdict,) = database.execute("PRAGMA quick_check").fetchone()
    if verdict != "ok":
        raise BackupError(f"{what} failed SQLite's integrity check: {verdict}", usage=False)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not on PATH; install the PostgreSQL client tools of the server's major "
                          "version (Debian: apt-get install postgresql-client)")
    return path


def _run(*command: str, what: str) -> None:
    # The command line names only tools found on PATH and our own arguments; the password travels in
    # the environment, where other users' `ps` cannot read it.
    result = subprocess.run(command, env=_libpq_environment(), capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{what} failed (exit status {result.returncode}): {result.stderr.strip()}", usage=False)


def _libpq_environment() -> dict[str, str]:
    settings: dict[str, Any] = connection.settings_dict
    options: dict[str, Any] = settings.get("OPTIONS") or {}
    values = {
        "PGDATABASE": settings.get("NAME"),
        "PGUSER": settings.get("USER"),
        "PGPASSWORD": settings.get("PASSWORD"),
        "PGHOST": settings.get("HOST"),
        "PGPORT": settings.get("PORT"),
        "PGSSLMODE": options.get("sslmode"),
    }
    return {**os.environ, **{name: str(value) for name, value in values.items() if value}}
