"""Verification of the whole audit log: the sequence, the chain and every signed checkpoint.

It walks the entries in ``seq`` order, a range at a time. For each range the database returns a few
long values (the entries' canonical encodings, their stored hashes and their links, each run joined
together), built in one statement while a background thread lets Python hash the previous range; Python
then hashes every encoding and compares whole runs at once. Only a range that fails this fast check is
reread through the ORM, entry by entry, to decide exactly whether and why it is bad: the fast check can
send good entries to that closer look, never let a bad one through. A million entries take seconds and
memory stays flat. Verification stops at the first bad entry and names it.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from types import TracebackType

from django.db import connection

from vinex.audit import chain, signing
from vinex.audit.merkle import Frontier
from vinex.audit.models import AuditCheckpoint, AuditEntry, AuditHead

_ENCODED = ("actor", "role", "action", "object_type", "object_id", "purpose", "outcome", "prev_hash")
_ENTRY_SEPARATOR = b"\x1e"  # between the encodings of a range (stored text never holds control characters)
_HASH_SEPARATOR = ","  # between the hex hashes of a range: not a hex digit, so a run splits one way only


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


@dataclass(frozen=True)
class _Range:
    """The entries with ``after < seq <= after + size``, as the database joined them."""

    after: int
    count: int
    first: int | None
    last: int | None
    encodings: bytes  # canonical encodings in seq order, joined by _ENTRY_SEPARATOR
    hashes: str  # entry_hash values in seq order, joined by _HASH_SEPARATOR
    links: str  # prev_hash values, the same way
    complete: bool  # no entry_hash or prev_hash is NULL (a NULL would vanish from a joined run)
    field_bytes: int | None  # bytes in the encoded fields other than prev_hash (None if one is NULL everywhere)


def _range_sql() -> str:
    """One row per range: count, first and last seq, the joined encodings, hashes and links, how many hashes
    and links are present, and how many bytes the encoded fields hold.

    Joining in the database returns a few values instead of several per entry, and the database builds
    them in one step, during which Python's GIL is free for the hashing of the range before.
    """
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    names = [connection.ops.quote_name(f) for f in _ENCODED]
    if connection.vendor == "postgresql":
        at = """to_char("at" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"""
        encoding = f"concat_ws(chr(31), seq::text, {at}, {', '.join(names)})"
        joined = (f"convert_to(string_agg({encoding}, chr(30) ORDER BY seq), 'UTF8'), "
                  "string_agg(entry_hash, ',' ORDER BY seq), string_agg(prev_hash, ',' ORDER BY seq)")
        sizes = [f"octet_length({value})" for value in ("seq::text", at, *names[:-1])]
    elif connection.vendor == "sqlite":
        # The service stores SQLite times as canonical text already; anything else is settled by the ORM.
        # ("%%" is a literal percent sign once the parameters are bound.) group_concat joins in the order
        # it visits the rows, which for a range of the rowid (seq) is seq order.
        pattern = chain.SEPARATOR.join(["%%d", *["%%s"] * (len(_ENCODED) + 1)])
        encoding = f"printf('{pattern}', seq, \"at\", {', '.join(names)})"
        joined = (f"CAST(group_concat({encoding}, char(30)) AS BLOB), "
                  "group_concat(entry_hash, ','), group_concat(prev_hash, ',')")
        # printf stops a value at a NUL character, which the ORM (and so the exact check) would read
        # past: byte lengths measured without printf expose such a value.
        sizes = [f"length(CAST({value} AS BLOB))" for value in ("seq", '"at"', *names[:-1])]
    else:
        raise NotImplementedError(f"audit verification does not support {connection.vendor}")
    # Names come from the model, never from input; the bounds are parameters.
    return (f"SELECT count(*), min(seq), max(seq), {joined}, count(entry_hash), count(prev_hash), "  # noqa: S608
            f"sum({' + '.join(sizes)}) FROM {table} WHERE seq > %s AND seq <= %s")


class _RangeReader:
    """Reads ranges of entries, fetching the next one in a background thread while the caller hashes.

    The cursor is made on the caller's thread (Django connections belong to one thread) and is only ever
    used by one thread at a time: ``settle()`` waits for the fetch in flight, so the caller may then use
    the connection itself (to look closer at a range).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.sql = _range_sql()
        self.upcoming: tuple[int, Future[_Range]] | None = None

    def __enter__(self) -> _RangeReader:
        self.cursor = connection.cursor()
        self.pool = ThreadPoolExecutor(max_workers=1)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.settle()
        self.pool.shutdown()
        self.cursor.close()

    def read(self, after: int) -> _Range:
        """The range after ``after``: the one fetched ahead if it is that one, else fetched now."""
        if self.upcoming is not None and self.upcoming[0] == after:
            ahead = self.upcoming[1]
            self.upcoming = None
            return ahead.result()
        self.settle()
        return self._fetch(after)

    def prefetch(self, after: int) -> None:
        self.upcoming = (after, self.pool.submit(self._fetch, after))

    def settle(self) -> None:
        if self.upcoming is not None:
            wait([self.upcoming[1]])
            self.upcoming = None

    def _fetch(self, after: int) -> _Range:
        self.cursor.execute(self.sql, [after, after + self.size])
        count, first, last, encodings, hashes, links, with_hash, with_link, field_bytes = self.cursor.fetchone()
        return _Range(after, count, first, last, bytes(encodings or b""), hashes or "", links or "",
                      complete=count == with_hash == with_link, field_bytes=field_bytes)


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
    try:
        _verify_entries(frontier, checkpoints, chunk_size)
        _verify_end(frontier.size, checkpoints)
    except _Broken as broken:
        return VerifyResult(frontier.size, checkpoints.count, broken.seq, broken.reason)
    return VerifyResult(frontier.size, checkpoints.count)


def _verify_entries(frontier: Frontier, checkpoints: _Checkpoints, chunk_size: int) -> None:
    prev = chain.GENESIS_HASH
    with _RangeReader(chunk_size) as reader:
        while True:
            after = frontier.size
            entries = reader.read(after)
            if entries.count:
                reader.prefetch(entries.last or after)  # hashing this range overlaps reading the next
            digests = _fast_digests(entries, prev=prev)
            problem = None
            if digests is None:
                reader.settle()
                digests, problem = _exact_digests(after=after, prev=prev, limit=chunk_size)
            # The good entries before a problem go through the checkpoints first: one of those may be the
            # earlier sign of the same tampering.
            _extend(frontier, digests, checkpoints)
            if problem is not None:
                raise problem
            if not digests:
                return  # no entry after `after`: the end of the log
            prev = digests[-1].hex()


def _fast_digests(entries: _Range, *, prev: str) -> list[bytes] | None:
    """The digests of a range whose entries are all intact, gap-free and linked; None if any needs a closer look.

    Passing means what the entry-by-entry check would find: no seq missing, one encoding per entry (no
    separator inside one, no value cut short), one 64-digit hash and link per entry, each hash the digest
    of its encoding and each link the hash before it.
    """
    expected = entries.after + 1
    if not entries.count or entries.first != expected or entries.last != expected + entries.count - 1:
        return None  # empty (the end, or a long gap) or a gap inside
    if not entries.complete:
        return None
    if len(entries.encodings) != _encoded_length(entries):
        return None  # a value the encoding cut short (or left out)
    encodings = entries.encodings.split(_ENTRY_SEPARATOR)
    if len(encodings) != entries.count:
        return None
    sha256 = hashlib.sha256
    digests = [sha256(encoding).digest() for encoding in encodings]
    # Whole runs compared at once: one hex conversion per range rather than one per entry.
    if b"".join(digests).hex(_HASH_SEPARATOR, 32) != entries.hashes:
        return None
    if f"{prev}{_HASH_SEPARATOR}{entries.hashes}"[:-65] != entries.links:  # prev, then all hashes but the last
        return None
    return digests


def _encoded_length(entries: _Range) -> int | None:
    """How long the joined encodings are when every field is encoded whole: per entry the fields, nine
    separators and a 64-digit link, and a separator between entries."""
    if entries.field_bytes is None:
        return None
    return entries.field_bytes + entries.count * (len(_ENCODED) + 1 + 64) + entries.count - 1


def _exact_digests(*, after: int, prev: str, limit: int) -> tuple[list[bytes], _Broken | None]:
    """Up to ``limit`` entries after ``after``, checked one by one from the ORM's reading of each row: the
    digests of those before the first bad one, and what is wrong with that one (if any)."""
    digests: list[bytes] = []
    expected = after + 1
    for entry in AuditEntry.objects.filter(seq__gt=after).order_by("seq")[:limit].iterator(chunk_size=2_000):
        seq = entry.seq
        if seq != expected:
            return digests, _Broken(expected, f"gap: entry {expected} is missing (next is {seq})")
        fields = tuple(getattr(entry, name) for name in chain.FIELDS)
        if chain.entry_hash(seq, chain.timestamp(entry.at), fields, entry.prev_hash) != entry.entry_hash:
            return digests, _Broken(seq, f"hash mismatch: entry {seq} differs from what was recorded "
                                         "(modified or moved)")
        if entry.prev_hash != prev:
            return digests, _Broken(seq, f"chain break: entry {seq} does not follow entry {seq - 1} "
                                         "(one of them was replaced, or entries were moved)")
        digests.append(bytes.fromhex(entry.entry_hash))
        prev = entry.entry_hash
        expected += 1
    return digests, None


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
