from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from vinex.core.database import database_tick
from vinex.custody.models import Agency


def _agencies_in_the_database_file(tmp_path: Path) -> list[str]:
    """The agency codes the main database file holds by itself, without its write-ahead log."""
    copy = tmp_path / "copy.sqlite3"
    shutil.copyfile(connection.settings_dict["NAME"], copy)
    with sqlite3.connect(copy) as reader:
        return [row[0] for row in reader.execute("SELECT code FROM custody_agency")]


@pytest.mark.django_db(transaction=True)
def test_the_checkpoint_job_copies_what_writers_logged_into_the_database_file(tmp_path: Path) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the write-ahead log is SQLite's")
    database_tick(now=timezone.now())  # the schema, written by the test set-up
    Agency.objects.create(code="pine", name="Pine County Sheriff", jurisdiction_code="US-XX-001")
    # Writers leave the copy to the checkpoint job: the new row is in the log only.
    assert "pine" not in _agencies_in_the_database_file(tmp_path)
    database_tick(now=timezone.now())
    assert "pine" in _agencies_in_the_database_file(tmp_path)


@pytest.mark.django_db(transaction=True)
def test_a_busy_database_is_not_an_error_and_the_next_tick_runs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the write-ahead log is SQLite's")
    # Another process holds the database for itself (as a long import or a backup can); the tick's
    # connection waits a tenth of a second for it instead of the usual 30 s.
    connection.close()
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "timeout", 0.1)
    holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("COMMIT")  # the exclusive lock outlives the transaction in this locking mode
    try:
        with caplog.at_level(logging.DEBUG, logger="vinex.core.database"):
            database_tick(now=timezone.now())
    finally:
        holder.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.levelname for r in caplog.records if "busy" in r.getMessage()] == ["INFO"]

    caplog.clear()
    database_tick(now=timezone.now())
    assert not caplog.records
    connection.close()  # the next test connects with the usual busy timeout
