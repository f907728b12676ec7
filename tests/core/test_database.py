from __future__ import annotations

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
def test_the_worker_tick_copies_what_writers_logged_into_the_database_file(tmp_path: Path) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the write-ahead log is SQLite's")
    database_tick(now=timezone.now())  # the schema, written by the test set-up
    Agency.objects.create(code="pine", name="Pine County Sheriff", jurisdiction_code="US-XX-001")
    # Writers leave the copy to the worker: the new row is in the log only.
    assert "pine" not in _agencies_in_the_database_file(tmp_path)
    database_tick(now=timezone.now())
    assert "pine" in _agencies_in_the_database_file(tmp_path)
