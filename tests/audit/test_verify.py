"""``vinex audit verify`` against a real database whose rows were tampered with directly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tests.audit.helpers import record
from vinex.audit import chain, verify
from vinex.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from vinex.audit.services import audit_checkpoint_create
from vinex.audit.verify import audit_verify

pytestmark = pytest.mark.django_db


def sql(statement: str, params: list[Any] | None = None) -> None:
    """Tamper the way someone with database access would: plain SQL, no application code."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def verify_fails_at(seq: int, reason: str) -> None:
    result = audit_verify(chunk_size=7)  # small chunks, so problems also sit on chunk boundaries
    assert (result.first_bad_seq, result.reason.split(":")[0]) == (seq, reason), result.reason


def test_an_intact_log_verifies() -> None:
    record(30)
    audit_checkpoint_create()
    result = audit_verify(chunk_size=7)
    assert (result.ok, result.entries, result.checkpoints) == (True, 30, 1)


def test_an_edited_entry_is_named() -> None:
    record(20)
    sql("UPDATE audit_auditentry SET object_id = '999' WHERE seq = 12")
    verify_fails_at(12, "hash mismatch")


def test_an_edited_time_is_named() -> None:
    record(20)
    AuditEntry.objects.filter(seq=3).update(at=datetime(2020, 1, 1, tzinfo=UTC))
    verify_fails_at(3, "hash mismatch")


def test_a_deleted_entry_is_named() -> None:
    record(20)
    sql("DELETE FROM audit_auditentry WHERE seq = 8")
    verify_fails_at(8, "gap")


def test_deleting_the_first_entry_is_noticed() -> None:
    record(5)
    sql("DELETE FROM audit_auditentry WHERE seq = 1")
    verify_fails_at(1, "gap")


def test_swapped_entries_are_named() -> None:
    record(20)
    # Exchange the places of entries 5 and 6 (through a free seq, as the primary key is unique).
    sql("UPDATE audit_auditentry SET seq = 1000 WHERE seq = 5")
    sql("UPDATE audit_auditentry SET seq = 5 WHERE seq = 6")
    sql("UPDATE audit_auditentry SET seq = 6 WHERE seq = 1000")
    verify_fails_at(5, "hash mismatch")


def test_an_edited_link_to_the_previous_entry_is_named() -> None:
    record(10)
    sql("UPDATE audit_auditentry SET prev_hash = %s WHERE seq = 4", ["f" * 64])
    verify_fails_at(4, "hash mismatch")


def test_a_replaced_entry_with_a_recomputed_hash_breaks_the_chain_after_it() -> None:
    record(10)
    forged = chain.entry_hash(4, "2026-01-01 00:00:00.000000", ("user:1", "call_centre", "read", "contact", "77", "",
                                                                  "ok"), _hash_of(3))
    AuditEntry.objects.filter(seq=4).update(at=datetime(2026, 1, 1, tzinfo=UTC), object_id="77", entry_hash=forged)
    verify_fails_at(5, "chain break")


def test_a_rewritten_tail_is_caught_by_the_signed_checkpoint() -> None:
    record(10)
    audit_checkpoint_create()
    _rewrite_from(6, object_id="666")
    verify_fails_at(1, "checkpoint root mismatch")


def test_rewrites_after_an_earlier_checkpoint_are_narrowed_to_the_entries_since(settings: Any) -> None:
    settings.VINEX_AUDIT_CHECKPOINT_EVERY = 10
    for _ in range(25):
        record(1)
    _rewrite_from(14, object_id="666")
    verify_fails_at(11, "checkpoint root mismatch")


def test_a_forged_checkpoint_signature_is_caught() -> None:
    record(5)
    audit_checkpoint_create()
    AuditCheckpoint.objects.update(signature="00" * 64)
    verify_fails_at(1, "checkpoint signature invalid")


@pytest.mark.parametrize("chunk_size", [7, 20_000])
def test_of_several_problems_the_earliest_is_named(chunk_size: int) -> None:
    record(30)
    sql("DELETE FROM audit_auditentry WHERE seq = 25")
    sql("UPDATE audit_auditentry SET purpose = 'x' WHERE seq = 17")
    result = audit_verify(chunk_size=chunk_size)
    assert (result.first_bad_seq, result.reason.split(":")[0]) == (17, "hash mismatch")


@pytest.mark.parametrize("chunk_size", [7, 20_000])
def test_a_checkpoint_that_fails_before_a_later_problem_is_named_first(chunk_size: int) -> None:
    record(10)
    audit_checkpoint_create()
    record(10)
    _rewrite_from(4, object_id="666")  # rewrites 4 to 20 consistently; the checkpoint at 10 disagrees
    sql("DELETE FROM audit_auditentry WHERE seq = 15")
    result = audit_verify(chunk_size=chunk_size)
    assert (result.first_bad_seq, result.reason.split(":")[0]) == (1, "checkpoint root mismatch")


def test_entries_removed_from_the_end_are_noticed() -> None:
    record(10)
    sql("DELETE FROM audit_auditentry WHERE seq > 7")
    verify_fails_at(8, "truncated")


def test_entries_removed_from_the_end_with_the_head_rolled_back_are_caught_by_a_checkpoint() -> None:
    record(10)
    audit_checkpoint_create()
    sql("DELETE FROM audit_auditentry WHERE seq > 7")
    AuditHead.objects.update(seq=7, entry_hash=_hash_of(7))
    verify_fails_at(8, "truncated")


def test_times_stored_in_another_text_form_still_verify() -> None:
    _record_with_a_whole_second_time()
    assert audit_verify().ok


def test_entries_after_a_range_that_needed_a_closer_look_are_still_checked() -> None:
    _record_with_a_whole_second_time()
    record(20)
    sql("UPDATE audit_auditentry SET object_id = '999' WHERE seq = 20")
    verify_fails_at(20, "hash mismatch")


def test_an_intact_log_is_never_reread_entry_by_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    # The entry-by-entry reading is the slow path; on an intact log only the end of the log is looked for.
    record(30)
    rereads: list[int] = []
    exact = verify._exact_digests

    def counted(*, after: int, prev: str, limit: int) -> Any:
        rereads.append(after)
        return exact(after=after, prev=prev, limit=limit)

    monkeypatch.setattr(verify, "_exact_digests", counted)
    assert audit_verify(chunk_size=7).ok
    assert rereads == [30]


def test_a_deleted_run_longer_than_a_range_is_named_at_its_start() -> None:
    record(40)
    sql("DELETE FROM audit_auditentry WHERE seq BETWEEN 8 AND 30")
    verify_fails_at(8, "gap")


def test_a_field_holding_the_entry_separator_is_named() -> None:
    record(20)
    sql("UPDATE audit_auditentry SET actor = %s WHERE seq = 9", ["user:1\x1euser:2"])
    verify_fails_at(9, "hash mismatch")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL refuses NUL characters in text")
def test_a_value_extended_past_a_nul_character_is_named() -> None:
    record(20)
    sql("UPDATE audit_auditentry SET actor = actor || %s WHERE seq = 9", ["\x00user:2"])
    verify_fails_at(9, "hash mismatch")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL enforces the hash column's width")
def test_a_hash_moved_into_the_entry_before_is_named() -> None:
    record(20)
    sql("UPDATE audit_auditentry SET entry_hash = entry_hash || ',' || %s WHERE seq = 5", [_hash_of(6)])
    sql("UPDATE audit_auditentry SET entry_hash = '' WHERE seq = 6")
    verify_fails_at(5, "hash mismatch")


def test_the_command_exits_non_zero_and_names_the_first_bad_entry() -> None:
    record(6)
    sql("UPDATE audit_auditentry SET actor = 'user:2' WHERE seq = 4")
    with pytest.raises(CommandError, match=r"broken at entry 4: hash mismatch") as raised:
        call_command("audit", "verify")
    assert raised.value.returncode == 1


def test_the_command_reports_an_intact_log_and_records_the_check(capsys: pytest.CaptureFixture[str]) -> None:
    record(6)
    call_command("audit", "verify")
    assert "audit log intact: 6 entries" in capsys.readouterr().out
    assert AuditEntry.objects.get(seq=7).action == "audit_verify"
    assert audit_verify().ok


def _record_with_a_whole_second_time() -> None:
    """Three entries, the second stored as a log copied through the ORM (dumpdata/loaddata) stores it:
    whole seconds without a fraction, in a text form the database cannot join as the chain encodes it."""
    record(3)
    entry = AuditEntry.objects.get(seq=2)
    at = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    fields = tuple(getattr(entry, name) for name in chain.FIELDS)
    digest = chain.entry_hash(2, chain.timestamp(at), fields, entry.prev_hash)
    AuditEntry.objects.filter(seq=2).update(at=at, entry_hash=digest)
    AuditEntry.objects.filter(seq=3).update(prev_hash=digest, entry_hash=chain.entry_hash(
        3, _time_of(3), tuple(getattr(AuditEntry.objects.get(seq=3), n) for n in chain.FIELDS), digest))
    AuditHead.objects.update(entry_hash=_hash_of(3))


def _hash_of(seq: int) -> str:
    return AuditEntry.objects.get(seq=seq).entry_hash


def _time_of(seq: int) -> str:
    return chain.timestamp(AuditEntry.objects.get(seq=seq).at)


def _rewrite_from(seq: int, *, object_id: str) -> None:
    """Change entry ``seq`` and recompute every hash after it, as a careful forger would."""
    prev = _hash_of(seq - 1)
    for entry in AuditEntry.objects.filter(seq__gte=seq).order_by("seq"):
        fields = tuple(object_id if n == "object_id" else getattr(entry, n) for n in chain.FIELDS)
        digest = chain.entry_hash(entry.seq, chain.timestamp(entry.at), fields, prev)
        AuditEntry.objects.filter(seq=entry.seq).update(object_id=object_id, prev_hash=prev, entry_hash=digest)
        prev = digest
    AuditHead.objects.update(entry_hash=prev)
