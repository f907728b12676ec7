"""Upkeep of the embedded SQLite database."""

from __future__ import annotations

import logging
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
