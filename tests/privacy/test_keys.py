"""Field-key rotation (``vinex keys rotate`` / ``vinex keys check``) against the real database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connections
from django.db.models import TextField, Value
from django.db.models.functions import Cast
from django.utils import timezone

from tests.actors import ACTOR
from tests.conftest import event
from tests.custody.test_services import ingest
from tests.factories import subscribe
from vinex import cli
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency
from vinex.hotline.models import HotlineCall
from vinex.notify.models import Contact, Notification, Registrant
from vinex.notify.services import contacts_find
from vinex.policy.crypto import blind_index
from vinex.privacy import keys
from vinex.privacy.keys import encrypted_columns, keys_check, keys_rotate
from vinex.privacy.retention import retention_purge

pytestmark = pytest.mark.django_db

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
INDEX_KEY = "an index key that is long enough to be used, 0123456789"
EMAILS = ("ines.rotation@example.org", "tomas.rotation@example.org")
PHONE = "+12025550143"

Snapshot = dict[tuple[str, Any, str], Any]


@pytest.fixture
def under_key_a(settings: Any, agency: Agency) -> Snapshot:
    """Personal data in several models, all written under key A; returns every encrypted value by row."""
    settings.VINEX_FIELD_KEYS = (KEY_A,)
    settings.VINEX_INDEX_KEY = ""
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, email=EMAILS[0], sms=PHONE)
    subscribe(agency, email=EMAILS[1])
    gone = subscribe(agency, email="gone.rotation@example.org")
    ingest(agency, event("r1", "RELEASED", minutes=5))  # a notification (encrypted body) per contact
    HotlineCall.objects.create(caller_name="Ines Rotation", notes="called about the release")
    Registrant.objects.filter(pk=gone.pk).update(withdrawn_at=timezone.now() - timedelta(days=31))
    retention_purge(actor=ACTOR)  # one erased contact, whose "purged:" index must be left alone
    return snapshot()


def snapshot() -> Snapshot:
    """Every encrypted value, decrypted through the model fields (raises if any cannot be)."""
    return {(model._meta.label, obj.pk, column.attname): getattr(obj, column.attname)
            for model, columns in encrypted_columns() for obj in model._base_manager.all() for column in columns}


def raw_tokens() -> list[str]:
    return [token for model, columns in encrypted_columns() for column in columns
            for token in model._base_manager.annotate(raw=Cast(column.attname, TextField()))
            .exclude(raw__isnull=True).values_list("raw", flat=True)]


def rotate_to_b(settings: Any) -> None:
    """What an operator does: the new key in front, the old one kept after it to decrypt."""
    settings.VINEX_FIELD_KEYS = (KEY_B, KEY_A)


def found(value: str, channel: str = "email") -> int:
    return len(contacts_find(actor=ACTOR, channel=channel, value=value))


def test_every_encrypted_column_is_found_by_introspection() -> None:
    columns = {f"{model._meta.label}.{column.name}" for model, fields in encrypted_columns() for column in fields}
    assert {"notify.Contact.value", "notify.Notification.body", "hotline.HotlineCall.caller_name",
            "hotline.HotlineCall.notes", "hotline.Callback.phone", "registrations.Registration.case_number"} <= columns


def test_rotation_brings_every_value_under_the_new_key_and_lookups_back(settings: Any,
                                                                       under_key_a: Snapshot) -> None:
    rotate_to_b(settings)
    assert found(EMAILS[0]) == 0  # without VINEX_INDEX_KEY the index follows the first key: lookups break...
    report = keys_rotate(actor=ACTOR, batch_size=2)
    assert report.needs_attention == 0
    settings.VINEX_FIELD_KEYS = (KEY_B,)  # the old key is gone: everything must open with B alone
    assert snapshot() == under_key_a
    assert all(Fernet(KEY_B.encode()).decrypt(t.encode()) is not None for t in raw_tokens())
    assert (found(EMAILS[0]), found(EMAILS[1]), found(PHONE, "sms")) == (1, 1, 1)  # ...until rotation fixes them
    assert Contact.objects.filter(value_index__startswith="purged:").count() == 1


def test_counts_per_model_and_a_second_run_changes_nothing(settings: Any, under_key_a: Snapshot,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    rotate_to_b(settings)
    call_command("keys", "rotate", "--batch-size", "3")
    out = capsys.readouterr().out
    assert "notify.Contact: 4 re-encrypted, 0 already current" in out  # 3 live contacts and the purged one
    assert "notify.Notification: 4 re-encrypted" in out  # one per contact, the purged one too
    assert "hotline.HotlineCall: 2 re-encrypted" in out  # two encrypted columns of one row
    assert "notify.Contact indexes: 3 recomputed" in out
    call_command("keys", "rotate")
    out = capsys.readouterr().out
    assert "notify.Contact: 0 re-encrypted, 4 already current" in out
    assert "notify.Contact indexes: 0 recomputed, 3 already current" in out
    assert "every encrypted value is under the newest key" in out


def test_a_dedicated_index_key_keeps_lookups_working_through_a_rotation(settings: Any, agency: Agency) -> None:
    settings.VINEX_FIELD_KEYS = (KEY_A,)
    settings.VINEX_INDEX_KEY = INDEX_KEY
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, email=EMAILS[0], sms=PHONE)
    rotate_to_b(settings)
    assert (found(EMAILS[0]), found(PHONE, "sms")) == (1, 1)  # before the rotation as well as after
    report = keys_rotate(actor=ACTOR)
    assert (report.index.recomputed, report.index.current) == (0, 2)
    settings.VINEX_FIELD_KEYS = (KEY_B,)
    assert (found(EMAILS[0]), found(PHONE, "sms")) == (1, 1)


def test_adopting_an_index_key_later_reindexes_existing_contacts(settings: Any, under_key_a: Snapshot) -> None:
    settings.VINEX_INDEX_KEY = INDEX_KEY
    assert found(EMAILS[0]) == 0
    assert keys_rotate(actor=ACTOR).index.recomputed == 3
    assert (found(EMAILS[0]), found(EMAILS[1]), found(PHONE, "sms")) == (1, 1, 1)


def test_too_short_an_index_key_is_refused(settings: Any) -> None:
    settings.VINEX_INDEX_KEY = "short"
    with pytest.raises(Exception, match="VINEX_INDEX_KEY must be at least 32 characters"):
        blind_index("email:someone@example.org")


def crash_after(calls: int, real: Callable[[str], str]) -> Callable[[str], str]:
    """``rotate`` that dies like a killed process on its ``calls + 1``-th use."""
    seen = [0]

    def rotate(token: str) -> str:
        seen[0] += 1
        if seen[0] > calls:
            raise KeyboardInterrupt
        return real(token)

    return rotate


def test_a_killed_run_is_finished_by_running_again(settings: Any, under_key_a: Snapshot,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    rotate_to_b(settings)
    monkeypatch.setattr(keys, "rotate", crash_after(3, keys.rotate))
    with pytest.raises(KeyboardInterrupt):
        keys_rotate(actor=ACTOR, batch_size=2)  # dies inside its second batch, which therefore rolls back
    monkeypatch.undo()
    half = keys_check(actor=ACTOR)
    assert (sum(m.current for m in half.models), half.undecryptable) == (2, 0)  # only the committed batch
    assert half.old_key == len(under_key_a) - 2
    report = keys_rotate(actor=ACTOR, batch_size=2)
    assert sum(m.current for m in report.models) == 2  # what the first run did is not done again
    assert sum(m.rotated for m in report.models) == len(under_key_a) - 2
    done = keys_check(actor=ACTOR)
    assert (done.old_key, done.undecryptable, done.stale_indexes) == (0, 0, 0)
    settings.VINEX_FIELD_KEYS = (KEY_B,)
    assert snapshot() == under_key_a


def test_a_value_written_during_rotation_is_not_overwritten(settings: Any, under_key_a: Snapshot,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    rotate_to_b(settings)
    target = Notification.objects.order_by("pk").first()
    assert target is not None
    real = keys.rotate

    def rotate_while_someone_writes(token: str) -> str:
        # Between the rotation's read and its write, another process saves a new body (under key B).
        if Notification.objects.filter(pk=target.pk).alias(raw=Cast("body", TextField())).filter(raw=token).exists():
            Notification.objects.filter(pk=target.pk).update(body="a newer body")
        return real(token)

    monkeypatch.setattr(keys, "rotate", rotate_while_someone_writes)
    report = keys_rotate(actor=ACTOR)
    assert [m.changed for m in report.models if m.model == "notify.Notification"] == [1]
    assert report.needs_attention == 1
    assert Notification.objects.get(pk=target.pk).body == "a newer body"  # not the stale re-encryption
    monkeypatch.undo()
    assert keys_check(actor=ACTOR).old_key == 0  # the newer write was already under B


def test_check_counts_old_current_and_undecryptable_values(settings: Any, under_key_a: Snapshot,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    rotate_to_b(settings)
    stray = Fernet(Fernet.generate_key()).encrypt(b"under a key nobody configured").decode()
    Notification.objects.filter(pk=Notification.objects.order_by("pk").values("pk")[:1]).update(
        body=Value(stray, output_field=TextField()))
    report = keys_check(actor=ACTOR)
    assert (report.old_key, report.undecryptable, report.stale_indexes) == (len(under_key_a) - 1, 1, 3)
    assert [m.undecryptable for m in report.models if m.model == "notify.Notification"] == [1]
    with pytest.raises(CommandError, match="1 values cannot be decrypted") as failed:
        call_command("keys", "check")
    assert failed.value.returncode == 1
    out = capsys.readouterr().out
    assert "notify.Notification: 0 under the newest key, 3 under an older key, 1 undecryptable" in out
    with pytest.raises(CommandError) as failed:
        call_command("keys", "rotate")  # rotates the rest, but says one value is stuck
    assert failed.value.returncode == 1
    after = keys_check(actor=ACTOR)
    assert (after.old_key, after.undecryptable, after.stale_indexes) == (0, 1, 0)


def test_the_console_script_exits_non_zero_when_values_are_undecryptable(
        settings: Any, under_key_a: Snapshot, monkeypatch: pytest.MonkeyPatch) -> None:
    # A command run from the command line closes its connections at the end; the test's must stay open.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    settings.VINEX_FIELD_KEYS = (KEY_B,)  # key A forgotten: nothing opens
    with pytest.raises(SystemExit) as exited:
        cli.main(["keys", "check"])
    assert exited.value.code == 1
    settings.VINEX_FIELD_KEYS = (KEY_B, KEY_A)
    cli.main(["keys", "check"])  # returns normally: old values are fine, just not rotated yet


def test_generate_prints_a_usable_key(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("keys", "generate")
    key = capsys.readouterr().out.strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"


def test_rotation_and_check_are_audited_without_personal_data(settings: Any, under_key_a: Snapshot) -> None:
    rotate_to_b(settings)
    call_command("keys", "rotate")  # the command names itself as the log always has: system:cli
    call_command("keys", "check")
    entries = list(AuditEntry.objects.filter(action__in=["key_rotation", "key_check"]).order_by("seq"))
    assert [(e.action, e.outcome, e.actor, e.role) for e in entries] == [
        ("key_rotation", "started", "system:cli", "system"),
        ("key_rotation", "ok", "system:cli", "system"),
        ("key_check", "ok", "system:cli", "system"),
    ]
    assert entries[1].object_id == keys.key_fingerprint(KEY_B) != keys.key_fingerprint(KEY_A)
    assert "re-encrypted" in entries[1].purpose
    stored = " ".join(f"{e.object_id} {e.purpose}" for e in entries)
    assert not any(secret in stored for secret in (*EMAILS, PHONE, "Ines Rotation", KEY_A, KEY_B))
