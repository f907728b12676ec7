from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from tests.audit.helpers import record
from tests.support.threads import on_own_connections
from vinex.audit import chain
from vinex.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from vinex.audit.services import (
    AuditEntries,
    AuditEntryIn,
    audit_checkpoint_create,
    audit_record,
    audit_record_many,
    audit_tick,
)
from vinex.audit.verify import audit_verify


@pytest.mark.django_db
def test_recorded_entries_form_a_gap_free_chain() -> None:
    audit_record(actor="user:42", role="privacy_officer", action="read", object_type="contact", object_id="17",
                 purpose="redress request")
    audit_record(actor="system:worker", role="system", action="update", object_type="notification", object_id="9")
    first, second = AuditEntry.objects.order_by("seq")
    assert (first.seq, first.actor, first.role, first.object_type, first.object_id, first.purpose, first.outcome) == (
        1, "user:42", "privacy_officer", "contact", "17", "redress request", "ok")
    assert second.seq == 2 and second.prev_hash == first.entry_hash
    assert AuditHead.objects.get().seq == 2
    assert audit_verify().ok


@pytest.mark.django_db
def test_an_entry_rolls_back_with_the_transaction_it_describes() -> None:
    record(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor="user:1", role="administrator", action="update", object_type="agency", object_id="3")
        raise RuntimeError("the write failed")
    record(1)
    assert list(AuditEntry.objects.values_list("seq", flat=True).order_by("seq")) == [1, 2, 3]
    assert not AuditEntry.objects.filter(object_type="agency").exists()
    assert audit_verify().ok


@pytest.mark.django_db
def test_a_bulk_append_is_one_run_of_the_same_chain() -> None:
    record(3)
    audit_record_many(entries=[AuditEntryIn("apikey:ab12cd", "agency", "create", "custody_event", str(i))
                               for i in range(5)])
    assert list(AuditEntry.objects.values_list("seq", flat=True).order_by("seq")) == list(range(1, 9))
    assert audit_verify().ok


@pytest.mark.django_db
def test_a_large_append_links_each_entry_as_the_chain_defines_it() -> None:
    # More entries than PostgreSQL chains in SQL: hashed here, by the loop that spells out chain.entry_hash.
    record(2)
    audit_record_many(entries=[AuditEntryIn("agency:pine", "agency", "create", "custody_event", f"pine:é-{i}",
                                            purpose="señal" if i % 2 else "")
                               for i in range(chain.SQL_APPEND_UP_TO + 6)])
    entries = list(AuditEntry.objects.order_by("seq"))
    assert len(entries) == chain.SQL_APPEND_UP_TO + 8
    for before, entry in itertools.pairwise(entries):
        fields = tuple(getattr(entry, name) for name in chain.FIELDS)
        assert entry.prev_hash == before.entry_hash
        assert entry.entry_hash == chain.entry_hash(entry.seq, chain.timestamp(entry.at), fields, entry.prev_hash)
    assert audit_verify().ok


@pytest.mark.django_db
def test_entries_made_from_one_template_differ_only_in_their_object() -> None:
    template = AuditEntryIn("agency:pine", "agency", "create", "custody_event", "")
    audit_record_many(entries=AuditEntries.for_objects(template, ["pine:e1", "pine:e\x002", "x" * 500]))
    rows = list(AuditEntry.objects.order_by("seq").values_list("actor", "action", "object_type", "object_id"))
    assert rows == [("agency:pine", "create", "custody_event", "pine:e1"),
                    ("agency:pine", "create", "custody_event", "pine:e\ufffd2"),
                    ("agency:pine", "create", "custody_event", "x" * 128)]
    assert audit_verify().ok


@pytest.mark.django_db
def test_control_characters_and_overlong_values_are_made_safe_to_store() -> None:
    audit_record(actor="user:1\x1frole", role="auditor", action="read", object_type="contact", object_id="x" * 500,
                 purpose="line one\nline two")
    entry = AuditEntry.objects.get()
    assert entry.actor == "user:1\ufffdrole" and entry.purpose == "line one\ufffdline two"
    assert len(entry.object_id) == 128
    assert audit_verify().ok


@pytest.mark.django_db
def test_checkpoints_are_signed_every_n_entries(settings: Any) -> None:
    settings.VINEX_AUDIT_CHECKPOINT_EVERY = 10
    for _ in range(25):
        record(1)
    assert list(AuditCheckpoint.objects.values_list("tree_size", flat=True).order_by("tree_size")) == [10, 20]
    record(12)  # passes 30: one checkpoint at the end of the batch
    assert AuditCheckpoint.objects.order_by("-tree_size").first().tree_size == 37  # type: ignore[union-attr]
    result = audit_verify()
    assert result.ok and result.checkpoints == 3


@pytest.mark.django_db
def test_a_checkpoint_can_be_signed_on_demand() -> None:
    assert audit_checkpoint_create() is None  # an empty log has nothing to sign
    record(3)
    checkpoint = audit_checkpoint_create()
    assert checkpoint is not None and checkpoint.tree_size == 3
    assert audit_checkpoint_create() is None  # nothing new since
    assert audit_verify().checkpoints == 1


@pytest.mark.django_db(transaction=True)
def test_processes_appending_at_once_never_fork_the_chain() -> None:
    def append_many(worker: int) -> None:
        for i in range(25):
            with transaction.atomic():
                audit_record(actor=f"system:worker-{worker}", role="system", action="update",
                             object_type="notification", object_id=str(i))

    on_own_connections(append_many, 4)
    assert list(AuditEntry.objects.values_list("seq", flat=True).order_by("seq")) == list(range(1, 101))
    assert audit_verify().ok


@pytest.mark.django_db
def test_the_periodic_tick_signs_entries_that_waited_too_long(settings: Any) -> None:
    settings.VINEX_AUDIT_CHECKPOINT_SECONDS = 3600
    audit_tick(now=timezone.now())
    assert not AuditCheckpoint.objects.exists()  # nothing to sign yet
    record(3)
    audit_tick(now=timezone.now())
    assert list(AuditCheckpoint.objects.values_list("tree_size", flat=True)) == [3]
    record(2)
    audit_tick(now=timezone.now())
    assert AuditCheckpoint.objects.count() == 1  # the last one is recent: wait
    audit_tick(now=timezone.now() + timedelta(hours=2))
    assert list(AuditCheckpoint.objects.values_list("tree_size", flat=True).order_by("tree_size")) == [3, 5]
    assert audit_verify().ok


@pytest.mark.django_db
def test_a_damaged_saved_tree_state_does_not_stop_appends(settings: Any) -> None:
    settings.VINEX_AUDIT_CHECKPOINT_EVERY = 5
    record(5)
    AuditCheckpoint.objects.update(frontier="not hex")
    record(5)
    assert AuditEntry.objects.count() == 10 and AuditCheckpoint.objects.count() == 2
    assert audit_verify().ok
