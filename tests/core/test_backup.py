"""``vinex backup`` and ``vinex restore`` round trip, on SQLite and (with VINEX_DATABASE_URL) PostgreSQL.

The data is made the way vinex makes it: events through the API, registrants through the services, an
email sent by the real worker to a real SMTP server. The restored database is then used by the real
commands (``vinex audit verify``, ``vinex worker --once``) as an operator would after a disaster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection, transaction
from django.test import Client

from tests.conftest import event
from tests.factories import subscribe
from tests.support.smtp import SmtpServer
from vinex.audit.models import AuditEntry
from vinex.audit.services import audit_record
from vinex.custody.models import Agency
from vinex.notify.models import Notification, NotificationStatus
from vinex.notify.worker import Worker

pytestmark = pytest.mark.django_db(transaction=True)


def _post(api: Client, *events: dict[str, object]) -> None:
    response = api.post("/api/v1/custody-events", data=json.dumps({"events": list(events)}),
                        content_type="application/json")
    assert response.status_code == 200 and response.json()["accepted"] == len(events), response.content


def _vinex(*args: str, database_url: str, email_url: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "VINEX_DATABASE_URL": database_url,
        "VINEX_SECRET_KEY": settings.SECRET_KEY,
        "VINEX_FIELD_KEY": ",".join(settings.VINEX_FIELD_KEYS),
        "VINEX_EMAIL_URL": email_url,
    }
    return subprocess.run([sys.executable, "-m", "vinex.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def _url(name: str) -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


@pytest.fixture
def fresh_database(tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of the same engine as the test database."""
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    name = f"{connection.settings_dict['NAME']}_restored"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield _url(name)
    _drop_database(name)


def _drop_database(name: str) -> None:
    """Drop ``name`` once nothing uses it. An autovacuum worker may still be visiting the fresh database:
    it is the server's own process, which ``WITH (FORCE)`` may not end for us, so wait for it instead."""
    for _ in range(60):
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            return
        except OperationalError:
            time.sleep(0.5)
    raise AssertionError(f"database {name} stayed in use")


@pytest.fixture
def backup_file(agency: Agency, api: Client, smtp_settings: SmtpServer, tmp_path: Path) -> Path:
    """A backup taken when one release email has gone out and two booking emails wait in the outbox."""
    _post(api, event("b1", "BOOKED"))
    subscribe(agency, email="first@example.org")
    _post(api, event("r1", "RELEASED", minutes=30, reason="bond"))
    assert Worker(threads=1).run_once() == 1
    assert [m["Subject"] for m in smtp_settings.inbox.wait_for(1)] == ["Custody update: released"]
    subscribe(agency, email="second@example.org")
    _post(api, event("b2", "BOOKED", minutes=60))
    assert sorted(Notification.objects.values_list("status", flat=True)) == sorted(
        [NotificationStatus.SENT, NotificationStatus.QUEUED, NotificationStatus.QUEUED])

    out = tmp_path / "vinex.backup"
    call_command("backup", out=out)
    return out


def test_a_restored_database_verifies_and_sends_only_what_was_still_queued(
    backup_file: Path, fresh_database: str
) -> None:
    audit_entries = AuditEntry.objects.count()
    assert audit_entries > 0

    restored = _vinex("restore", str(backup_file), database_url=fresh_database)
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.startswith(f"restored {backup_file} into the ")

    verified = _vinex("audit", "verify", database_url=fresh_database)
    assert verified.returncode == 0, verified.stderr
    assert f"audit log intact: {audit_entries} entries" in verified.stdout

    inbox = SmtpServer().start()
    try:
        worker = _vinex("worker", "--once", database_url=fresh_database, email_url=inbox.url)
        assert worker.returncode == 0, worker.stderr
        sent = sorted((m["To"], m["Subject"]) for m in inbox.inbox.messages)
        again = _vinex("worker", "--once", database_url=fresh_database, email_url=inbox.url)
        assert again.returncode == 0, again.stderr
    finally:
        inbox.stop()
    # The release went out before the backup and is not sent again; the bookings were waiting and are.
    assert sent == [("first@example.org", "Custody update: booked"), ("second@example.org", "Custody update: booked")]
    assert len(inbox.inbox.messages) == 2


def test_restore_refuses_a_database_that_is_not_empty_unless_forced(backup_file: Path, fresh_database: str) -> None:
    assert _vinex("restore", str(backup_file), database_url=fresh_database).returncode == 0
    refused = _vinex("restore", str(backup_file), database_url=fresh_database)
    assert refused.returncode == 2
    assert "not empty" in refused.stderr and "--force" in refused.stderr
    forced = _vinex("restore", "--force", str(backup_file), database_url=fresh_database)
    assert forced.returncode == 0, forced.stderr
    assert "replacing the" in forced.stdout


def test_restore_over_the_live_database_is_refused_and_changes_nothing(backup_file: Path, agency: Agency) -> None:
    Agency.objects.create(code="later", name="Made after the backup", jurisdiction_code="US-XX-002")
    with pytest.raises(CommandError, match="not empty") as refused:
        call_command("restore", str(backup_file))
    assert refused.value.returncode == 2
    assert Agency.objects.filter(code="later").exists()


def test_a_file_that_is_not_a_backup_is_refused(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n")
    with pytest.raises(CommandError, match="not a vinex backup") as refused:
        call_command("restore", str(notes), force=True)
    assert refused.value.returncode == 2


def test_without_pg_dump_on_the_path_backup_says_so_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite backs up without outside tools")
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    with pytest.raises(CommandError, match="pg_dump is not on PATH") as refused:
        call_command("backup", out=tmp_path / "vinex.backup")
    assert refused.value.returncode == 2
    assert not (tmp_path / "vinex.backup").exists()


def test_a_backup_taken_while_vinex_writes_is_consistent(tmp_path: Path, fresh_database: str) -> None:
    # The audit chain is the strictest witness: each entry's hash covers the one before, and the head row
    # is written in the same transaction, so a copy of half a transaction fails verification.
    stop = threading.Event()

    def write() -> None:
        try:
            while not stop.is_set():
                with transaction.atomic():
                    audit_record(actor="system:test", role="system", action="read", object_type="subject",
                                 object_id="S-1")
        finally:
            connection.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while AuditEntry.objects.count() < 50:
            time.sleep(0.01)
        call_command("backup", out=tmp_path / "vinex.backup")
    finally:
        stop.set()
        writer.join()
    assert _vinex("restore", str(tmp_path / "vinex.backup"), database_url=fresh_database).returncode == 0
    verified = _vinex("audit", "verify", database_url=fresh_database)
    assert verified.returncode == 0, verified.stderr
