"""Upkeep of the embedded SQLite database, and the order in which its writers take their turns."""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import OperationalError, connection

logger = logging.getLogger(__name__)

# SQLite's words for "another connection holds the lock": SQLITE_BUSY and SQLITE_LOCKED.
_BUSY_MESSAGES = ("database is locked", "database table is locked", "database is busy")


def database_tick(*, now: datetime) -> None:
    """Copy what the write-ahead log holds back into the database file (a periodic job).

    Writers leave this to the periodic job (``wal_autocheckpoint`` is set high, see settings), so a
    request or an import that wrote a lot returns without waiting for the copy. PASSIVE never blocks
    readers or writers: pages still in use are copied on a later tick. A database another process holds
    locked (a long import, a backup, a second checkpoint) is expected: the tick gives up quietly and
    the next one copies what is left.
    """
    if connection.vendor != "sqlite":
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            _busy, log_pages, copied = cursor.fetchone()
    except OperationalError as error:
        if not _is_busy(error):
            raise
        logger.info("database busy; the write-ahead log is copied on a later tick", extra={"reason": str(error)})
        return
    if log_pages > copied:
        logger.debug("checkpoint left pages in the log", extra={"log_pages": log_pages, "copied": copied})


def _is_busy(error: OperationalError) -> bool:
    return any(message in str(error).lower() for message in _BUSY_MESSAGES)


# --- Writers' turns on SQLite ---------------------------------------------------------------------------
#
# SQLite lets one writer at a time into the database. Left to its busy handler, a writer that finds the
# lock taken sleeps and polls (sleeps growing to 100 ms), so under a stream of ingest requests the worker
# loses nearly every race for the lock: ingest saturates it, and victims hear a minute late. Writers
# therefore queue in the kernel, with flocks on two files beside the database:
#
# - ``<db>.write-turn`` is held by whoever writes (ingest or the worker) for its whole transaction;
# - ``<db>.write-queue`` is where ingest batches wait for theirs, and an ingest holds it until its turn
#   ends. So while one batch writes, the others wait on the queue, never on the turn: the turn has at
#   most one ingest and the senders waiting for it, and when that batch commits the waiting sender is
#   the only one asking. A sender waits at most for the one batch being written (a few milliseconds for a
#   single event), however many requests are queued behind it.
# - ``<db>.write-senders``: a sender holds it shared while it waits for the turn, and the batch at the head
#   of the queue passes it exclusively before asking for the turn. Without it, when a batch ended the next
#   one (woken for the queue) could ask for the turn before the woken sender took it, and on a busy machine
#   a sender needing three turns a round (release, claim, record) lost to batch after batch.
#
# A flock is released by the kernel when its process dies, so a crash never leaves a turn held.


@contextmanager
def write_turn(*, priority: bool = False) -> Iterator[None]:
    """Queue for SQLite's write lock in the kernel; ``priority`` writers (the senders) pass every ingest
    that has not started writing yet.

    A no-op on PostgreSQL (row locks, not a database lock), on an in-memory database and inside an
    outer transaction, which may already hold the database's lock: waiting there for a turn that a
    writer blocked on that lock holds would deadlock. Only the waiting differs; what is written does not.
    """
    name = str(connection.settings_dict["NAME"])
    in_memory = name == ":memory:" or "mode=memory" in name
    if connection.vendor != "sqlite" or connection.in_atomic_block or in_memory:
        yield
        return
    with _lock_file(f"{name}.write-turn") as turn, _lock_file(f"{name}.write-senders") as senders:
        if priority:
            # Announced while waiting, so that no ingest takes the turn first when it is released.
            with _flocked(senders, fcntl.LOCK_SH):
                fcntl.flock(turn, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(turn, fcntl.LOCK_UN)
            return
        with _lock_file(f"{name}.write-queue") as queue, _flocked(queue):
            with _flocked(senders):  # passes once no sender waits for the turn
                pass
            with _flocked(turn):
                yield


@contextmanager
def _lock_file(path: str) -> Iterator[int]:
    """A descriptor of its own on ``path`` (created if missing), for flock: a raw descriptor rather than a
    Python file object, which costs several times the two system calls, on every write of every request."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    try:
        yield descriptor
    finally:
        os.close(descriptor)


@contextmanager
def _flocked(handle: int, mode: int = fcntl.LOCK_EX) -> Iterator[None]:
    fcntl.flock(handle, mode)
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
