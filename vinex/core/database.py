"""Upkeep of the embedded SQLite database."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import connection

logger = logging.getLogger(__name__)


def database_tick(*, now: datetime) -> None:
    """Copy what the write-ahead log holds back into the database file (a worker's periodic task).

    Writers leave this to the worker (``wal_autocheckpoint`` is set high, see settings), so a request
    or an import that wrote a lot returns without waiting for the copy. PASSIVE never blocks readers
    or writers: pages still in use are copied on a later tick.
    """
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        _busy, log_pages, copied = cursor.fetchone()
    if log_pages > copied:
        logger.debug("checkpoint left pages in the log", extra={"log_pages": log_pages, "copied": copied})
