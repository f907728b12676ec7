"""Writes to the audit log: appending entries and signing checkpoints.

Appends serialise on the single ``AuditHead`` row: ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite
every write transaction already takes the database's write lock at ``BEGIN`` (``transaction_mode``
IMMEDIATE). So any number of server and worker processes can append and the sequence stays gap-free.
The lock is held until the caller's transaction ends, so entries are appended as the last step of a
transaction, after its other writes: services add them to the transaction's ``vinex.audit.unit``, which
calls ``audit_record_many`` once, just before commit.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from vinex.audit import chain, signing
from vinex.audit.chain import AuditEntries, AuditEntryIn
from vinex.audit.merkle import Frontier
from vinex.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from vinex.core.bulk import rows_insert

logger = logging.getLogger(__name__)

__all__ = ["AuditEntries", "AuditEntryIn", "audit_checkpoint_create", "audit_record", "audit_record_many",
           "audit_record_many_and_commit", "audit_tick"]


def audit_record(
    *, actor: str, role: str, action: str, object_type: str, object_id: str, purpose: str = "", outcome: str = "ok"
) -> None:
    """Append one entry, in the caller's transaction: it commits or rolls back with the work it describes."""
    entry = AuditEntryIn(actor, role, action, object_type, str(object_id), purpose, outcome)
    audit_record_many(entries=(entry,))


def audit_record_many(*, entries: Sequence[AuditEntryIn] | AuditEntries) -> None:
    """Append ``entries`` in order, as consecutive links of the chain, in the caller's transaction.

    A checkpoint is signed whenever the log passes a multiple of ``VINEX_AUDIT_CHECKPOINT_EVERY``.
    """
    cleaned = entries.fields if isinstance(entries, AuditEntries) else [entry.clean() for entry in entries]
    if not cleaned:
        return
    db = transaction.get_connection()  # looked up once: each access to django.db.connection costs
    with transaction.atomic(savepoint=False), db.cursor() as cursor:
        if db.vendor == "postgresql" and len(cleaned) <= chain.SQL_APPEND_UP_TO:
            _append_in_sql(cursor, cleaned)
            return
        first, prev_hash = _head_locked(cursor, lock=db.features.has_select_for_update)
        rows = _chain_rows(cleaned, seq=first, prev_hash=prev_hash, now=timezone.now(), text_time=db.vendor == "sqlite")
        # Set-based: the ORM's per-row overhead would cost more than hashing and storing the entry.
        rows_insert(AuditEntry, _ENTRY_COLUMNS, rows, prepared=True)
        last, last_hash = first + len(rows), str(rows[-1][-1])
        cursor.execute(_UPDATE_HEAD, [last, last_hash])
        _checkpoint_if_passed(first=first, last=last, newest=[str(row[-1]) for row in rows])


def audit_record_many_and_commit(*, entries: AuditEntries) -> None:
    """Append ``entries`` as the last statement of the caller's outermost transaction, which the caller
    commits next; on PostgreSQL the append and the commit go to the database together.

    Every append waits for the chain's head row, locked until the appending transaction commits. Sent
    apart, the commit waited for this process to get the CPU back (and the GIL, with the server's other
    threads at work) after the append's answer, and every writer queued behind that wait as well as the
    commit's flush to disk. Sent together, the head is held for the append and the flush only. A
    checkpoint due at this append is signed just after the commit, in the caller's block (a crash
    in between leaves it to ``audit_tick``). Anywhere else (SQLite, a batch too large for one statement)
    this is ``audit_record_many``, and the caller's block commits.
    """
    db = transaction.get_connection()
    cleaned = entries.fields
    if db.vendor != "postgresql" or not cleaned or len(cleaned) > chain.SQL_APPEND_UP_TO:
        audit_record_many(entries=entries)
        return
    sql, params = _append_statement(cleaned)
    raw = db.connection
    with db.wrap_database_errors, db.cursor() as head, db.cursor() as append:
        with raw.pipeline():
            # The head row exists but on a fresh (or emptied) log; this costs no wait of its own.
            head.execute(_CREATE_HEAD, [chain.GENESIS_HASH])
            append.execute(sql, params)
            raw.commit()
        rows = append.fetchall()
    _appended(rows)


def _append_in_sql(cursor: CursorWrapper, cleaned: Sequence[tuple[str, ...]]) -> None:
    """A few entries appended by one statement (``chain.append_sql``)."""
    sql, params = _append_statement(cleaned)
    cursor.execute(sql, params)
    rows = cursor.fetchall()
    if not rows:  # no head row yet: created once (appenders racing for it get the one row), then appended after
        AuditHead.objects.get_or_create(pk=1)
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    _appended(rows)


def _append_statement(cleaned: Sequence[tuple[str, ...]]) -> tuple[str, list[Any]]:
    """``chain.append_sql`` and its parameters for these entries, stamped now."""
    now = timezone.now()
    sql = chain.append_sql(head_table=AuditHead._meta.db_table, entry_table=AuditEntry._meta.db_table)
    return sql, chain.append_params(cleaned, chain.timestamp(now), now)


def _appended(rows: Sequence[Sequence[Any]]) -> None:
    """After ``chain.append_sql`` returned its (seq, entry hash) rows: sign a checkpoint if one fell due."""
    first, last = int(rows[0][0]) - 1, int(rows[-1][0])
    _checkpoint_if_passed(first=first, last=last, newest=[str(row[1]) for row in rows])


def _checkpoint_if_passed(*, first: int, last: int, newest: list[str]) -> None:
    """Sign a checkpoint when the log grew past a multiple of ``VINEX_AUDIT_CHECKPOINT_EVERY`` (from ``first``
    entries to ``last``; ``newest`` the hashes of the entries just appended)."""
    every = settings.VINEX_AUDIT_CHECKPOINT_EVERY
    if last // every > first // every:
        _checkpoint_sign(tree_size=last, newest=newest)


def audit_checkpoint_create() -> AuditCheckpoint | None:
    """Sign a checkpoint over the whole log now; None when the log is empty or already checkpointed."""
    with transaction.atomic(), connection.cursor() as cursor:
        size, _ = _head_locked(cursor, lock=connection.features.has_select_for_update)
        latest = AuditCheckpoint.objects.order_by("-tree_size").first()
        if size == 0 or (latest is not None and latest.tree_size == size):
            return None
        return _checkpoint_sign(tree_size=size)


def audit_tick(*, now: datetime) -> None:
    """Periodic work (called by the worker): sign a checkpoint when entries have waited too long for one."""
    latest = AuditCheckpoint.objects.order_by("-tree_size").values_list("tree_size", "signed_at").first()
    head_seq = AuditHead.objects.filter(pk=1).values_list("seq", flat=True).first() or 0
    if latest is not None and (latest[0] >= head_seq or now - latest[1] < _checkpoint_interval()):
        return
    if head_seq:
        audit_checkpoint_create()


def _checkpoint_interval() -> timedelta:
    return timedelta(seconds=settings.VINEX_AUDIT_CHECKPOINT_SECONDS)


# The raw SQL here names only this app's tables and columns (double quotes suit SQLite and PostgreSQL);
# every value goes in as a parameter.
_HEAD = f'"{AuditHead._meta.db_table}"'
_ENTRY_COLUMNS = ("seq", "at", *chain.FIELDS, "prev_hash", "entry_hash")
_UPDATE_HEAD = f"UPDATE {_HEAD} SET seq = %s, entry_hash = %s WHERE id = 1"  # noqa: S608
_CREATE_HEAD = f"INSERT INTO {_HEAD} (id, seq, entry_hash) VALUES (1, 0, %s) ON CONFLICT (id) DO NOTHING"  # noqa: S608


def _head_locked(cursor: CursorWrapper, *, lock: bool) -> tuple[int, str]:
    """(seq, entry_hash) of the newest entry, with the head row locked until the transaction ends."""
    select = f"SELECT seq, entry_hash FROM {_HEAD} WHERE id = 1"  # noqa: S608
    if lock:
        select += " FOR UPDATE"
    cursor.execute(select)
    row = cursor.fetchone()
    if row is None:
        # First append ever (or after a test flushed the table): create the row, then lock it.
        AuditHead.objects.get_or_create(pk=1)
        cursor.execute(select)
        row = cursor.fetchone()
    return int(row[0]), str(row[1])


_Row = tuple[int | str | datetime, ...]


def _chain_rows(
    cleaned: Sequence[tuple[str, ...]], *, seq: int, prev_hash: str, now: datetime, text_time: bool
) -> list[_Row]:
    at = chain.timestamp(now)
    # SQLite keeps the canonical text itself, so verification can hash the column as stored.
    stored_at = at if text_time else now
    rows = []
    # ``chain.entry_hash`` spelled out: under the head's lock, two calls and a tuple per entry are worth saving.
    # The tests check that both give the same hashes.
    sep = chain.SEPARATOR
    after_seq = f"{sep}{at}{sep}"
    join = sep.join
    sha256 = hashlib.sha256
    for fields in cleaned:
        seq += 1
        digest = sha256(f"{seq}{after_seq}{join(fields)}{sep}{prev_hash}".encode()).hexdigest()
        rows.append((seq, stored_at, *fields, prev_hash, digest))
        prev_hash = digest
    return rows


def _checkpoint_sign(*, tree_size: int, newest: Sequence[str] = ()) -> AuditCheckpoint:
    """Sign the head of the first ``tree_size`` entries; ``newest`` are the hashes of the last ones, when
    the caller has just written them (they need not be read back)."""
    frontier = _frontier_before(tree_size)
    before_newest = tree_size - len(newest)  # the seq just before the first of ``newest``
    stored_up_to = max(frontier.size, before_newest)
    hashes = AuditEntry.objects.filter(seq__gt=frontier.size, seq__lte=stored_up_to).order_by("seq")
    frontier.extend([bytes.fromhex(h) for h in hashes.values_list("entry_hash", flat=True)])
    frontier.extend([bytes.fromhex(h) for h in newest[stored_up_to - before_newest:]])
    root = frontier.root().hex()
    now = timezone.now()
    message = signing.tree_head_message(tree_size=tree_size, timestamp=chain.timestamp(now), root_hash=root)
    key_id, signature = signing.sign(message)
    return AuditCheckpoint.objects.create(
        tree_size=tree_size, root_hash=root, signed_at=now, key_id=key_id, signature=signature,
        frontier=frontier.dumps(),
    )


def _frontier_before(tree_size: int) -> Frontier:
    """The Merkle state at the newest checkpoint below ``tree_size``, to extend rather than recompute."""
    latest = AuditCheckpoint.objects.filter(tree_size__lt=tree_size).order_by("-tree_size").first()
    if latest is None:
        return Frontier()
    try:
        return Frontier.loads(latest.tree_size, latest.frontier)
    except ValueError:
        # A damaged saved state must not stop appends (and the writes they belong to): start over.
        logger.error("audit checkpoint %s has an unreadable frontier; recomputing from the start", latest.tree_size)
        return Frontier()
