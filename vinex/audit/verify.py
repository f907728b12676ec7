"""Verification of the whole audit log: the sequence, the chain and every signed checkpoint.

It streams through the entries in ``seq`` order, a chunk at a time, and checks each chunk with list
operations (the database returns each entry's canonical encoding, so Python only hashes); only an
entry that fails the fast check is reread through the ORM to decide, exactly, whether and why it is
bad. A million entries take seconds and memory stays flat. Verification stops at the first bad entry
and names it.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from django.db import connection
from django.db.backends.utils import CursorWrapper

from vinex.audit import chain, signing
from vinex.audit.merkle import Frontier
from vinex.audit.models import AuditCheckpoint, AuditEntry, AuditHead

_ENCODED = ("actor", "role", "action", "object_type", "object_id", "purpose", "outcome", "prev_hash")
_Row = tuple[int, str, str]  # seq, canonical encoding (ending with prev_hash), entry_hash


@dataclass(frozen=True)
class VerifyResult:
    """What verification found. ``first_bad_seq`` is None when the log is intact."""

    entries: int
    checkpoints: int
    first_bad_seq: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None


class _Broken(Exception):
    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


def _chunk_sql() -> str:
    """Rows of (seq, canonical encoding, entry_hash): the database joins the fields, which is cheaper than
    handing each one to Python separately."""
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    names = ", ".join(connection.ops.quote_name(f) for f in _ENCODED)
    if connection.vendor == "postgresql":
        at = """to_char("at" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"""
        encoding = f"concat_ws(chr(31), seq::text, {at}, {names})"
    elif connection.vendor == "sqlite":
        # The service stores SQLite times as canonical text already; anything else is settled in _diagnose.
        # ("%%" is a literal percent sign once the parameters are bound.)
        pattern = chain.SEPARATOR.join(["%%d", *["%%s"] * (len(_ENCODED) + 1)])
        encoding = f"printf('{pattern}', seq, \"at\", {names})"
    else:
        raise NotImplementedError(f"audit verification does not support {connection.vendor}")
    # Names come from the model, never from input; the bounds are parameters.
    return f"SELECT seq, {encoding} AS encoding, entry_hash FROM {table} WHERE seq > %s ORDER BY seq LIMIT %s"  # noqa: S608


class _ChunkReader:
    """Reads chunk after chunk, fetching the next one in a background thread while the caller hashes.

    The database does its part of the work (finding rows, building encodings) without holding Python's
    GIL, so on two cores reading and hashing overlap. ``settle()`` waits for the fetch in flight, so the
    caller may use the connection itself (to look closer at a bad entry).
    """

    def __init__(self, chunk_size: int) -> None:
        self.chunk_size = chunk_size
        self.sql = _chunk_sql()
        self.upcoming: Future[list[_Row]] | None = None

    def __iter__(self) -> Iterator[list[_Row]]:
        # The cursor is made here, on the caller's thread (Django connections belong to one thread), and
        # is only ever used by one thread at a time.
        with connection.cursor() as cursor, ThreadPoolExecutor(max_workers=1) as pool:
            rows = self._fetch(cursor, 0)
            while rows:
                self.upcoming = pool.submit(self._fetch, cursor, rows[-1][0])
                yield rows
                rows = self.upcoming.result()

    def _fetch(self, cursor: CursorWrapper, after: int) -> list[_Row]:
        cursor.execute(self.sql, [after, self.chunk_size])
        return cursor.fetchall()

    def settle(self) -> None:
        if self.upcoming is not None:
            wait([self.upcoming])


class _Checkpoints:
    """The signed checkpoints in size order, checked as the stream reaches each one."""

    def __init__(self) -> None:
        self.pending = list(AuditCheckpoint.objects.order_by("-tree_size"))
        self.count = len(self.pending)
        self.keys = signing.trusted_keys()
        self.verified_size = 0

    @property
    def next_size(self) -> int | None:
        return self.pending[-1].tree_size if self.pending else None

    def check(self, frontier: Frontier) -> None:
        checkpoint = self.pending.pop()
        message = signing.tree_head_message(
            tree_size=checkpoint.tree_size, timestamp=chain.timestamp(checkpoint.signed_at),
            root_hash=checkpoint.root_hash,
        )
        first = self.verified_size + 1
        if not signing.signature_valid(keys=self.keys, key=checkpoint.key_id, message=message,
                                       signature=checkpoint.signature):
            raise _Broken(first, f"checkpoint signature invalid: the checkpoint at {checkpoint.tree_size} was "
                                 "not signed by a trusted key or was altered")
        if frontier.root().hex() != checkpoint.root_hash:
            raise _Broken(first, f"checkpoint root mismatch: entries {first} to {checkpoint.tree_size} differ from "
                                 "what the signed checkpoint covers (rewritten with recomputed hashes)")
        self.verified_size = checkpoint.tree_size


def audit_verify(*, chunk_size: int = 20_000) -> VerifyResult:
    """Check every entry and checkpoint; report the first entry that is modified, missing or out of place."""
    checkpoints = _Checkpoints()
    frontier = Frontier()
    prev = chain.GENESIS_HASH
    try:
        reader = _ChunkReader(chunk_size)
        for rows in reader:
            digests, problem = _verify_chunk(rows, expected=frontier.size + 1, prev=prev, settle=reader.settle)
            # The good entries before a problem go through the checkpoints first: one of those may be the
            # earlier sign of the same tampering.
            _extend(frontier, digests, checkpoints)
            if problem is not None:
                raise problem
            prev = rows[-1][2]
        _verify_end(frontier.size, checkpoints)
    except _Broken as broken:
        return VerifyResult(frontier.size, checkpoints.count, broken.seq, broken.reason)
    return VerifyResult(frontier.size, checkpoints.count)


def _verify_chunk(
    rows: list[_Row], *, expected: int, prev: str, settle: Callable[[], None]
) -> tuple[list[bytes], _Broken | None]:
    """Digests of the chunk's entries up to its first bad one, and what is wrong with that one (if any)."""
    if rows[0][0] != expected:
        return [], _Broken(expected, f"gap: entry {expected} is missing (next is {rows[0][0]})")
    rows, gap = _up_to_gap(rows)
    sha256 = hashlib.sha256
    digests = [sha256(encoding.encode()).digest() for _, encoding, _ in rows]
    stored = [entry_hash for _, _, entry_hash in rows]
    links = [prev, *stored[:-1]]
    if [d.hex() for d in digests] != stored or [encoding[-64:] for _, encoding, _ in rows] != links:
        settle()
        for index, (seq, encoding, entry_hash) in enumerate(rows):
            if digests[index].hex() != entry_hash or encoding[-64:] != links[index]:
                try:
                    digests[index] = _diagnose(seq, links[index])
                except _Broken as broken:
                    return digests[:index], broken
    return digests, gap


def _up_to_gap(rows: list[_Row]) -> tuple[list[_Row], _Broken | None]:
    """The rows before the first missing seq, and the gap (if there is one)."""
    if rows[-1][0] == rows[0][0] + len(rows) - 1:
        return rows, None  # seq is unique and ordered, so first and last tell that none is missing
    for index, (before, after) in enumerate(itertools.pairwise(rows)):
        if after[0] != before[0] + 1:
            missing = before[0] + 1
            return rows[: index + 1], _Broken(missing, f"gap: entry {missing} is missing (next is {after[0]})")
    return rows, None


def _diagnose(seq: int, prev: str) -> bytes:
    """Decide exactly, from the ORM's reading of the row, whether entry ``seq`` is bad; its digest if not."""
    entry = AuditEntry.objects.get(seq=seq)
    fields = tuple(getattr(entry, name) for name in chain.FIELDS)
    if chain.entry_hash(seq, chain.timestamp(entry.at), fields, entry.prev_hash) != entry.entry_hash:
        raise _Broken(seq, f"hash mismatch: entry {seq} differs from what was recorded (modified or moved)")
    if entry.prev_hash != prev:
        raise _Broken(seq, f"chain break: entry {seq} does not follow entry {seq - 1} "
                           "(one of them was replaced, or entries were moved)")
    return bytes.fromhex(entry.entry_hash)


def _extend(frontier: Frontier, digests: list[bytes], checkpoints: _Checkpoints) -> None:
    start = 0
    while (size := checkpoints.next_size) is not None and size <= frontier.size + len(digests) - start:
        take = size - frontier.size
        frontier.extend(digests[start : start + take])
        start += take
        checkpoints.check(frontier)
    frontier.extend(digests[start:])


def _verify_end(count: int, checkpoints: _Checkpoints) -> None:
    if checkpoints.pending:
        size = checkpoints.pending[-1].tree_size
        raise _Broken(count + 1, f"truncated: entries {count + 1} to {size} are missing (a checkpoint covers {size})")
    head = AuditHead.objects.filter(pk=1).first()
    head_seq = head.seq if head is not None else 0
    if head_seq > count:
        raise _Broken(count + 1, f"truncated: entries {count + 1} to {head_seq} are missing "
                                 f"(the chain head is at {head_seq})")
    if head_seq < count:
        raise _Broken(head_seq + 1, f"entries {head_seq + 1} to {count} were added behind the log's back")
    if count and head is not None and head.entry_hash != _entry_hash_of(count):
        raise _Broken(count, f"chain break: entry {count} is not the newest entry the chain head recorded")


def _entry_hash_of(seq: int) -> str:
    return AuditEntry.objects.filter(seq=seq).values_list("entry_hash", flat=True).get()
