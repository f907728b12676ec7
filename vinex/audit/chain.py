"""The hash chain: what one audit entry is and how its hash is computed.

An entry's hash is SHA-256 over a canonical encoding of (seq, time as UTC ``YYYY-MM-DD HH:MM:SS.ffffff``,
actor, role, action, object type, object id, purpose, outcome, previous entry's hash), the values
joined by the ASCII unit separator (0x1F) and encoded as UTF-8. Control characters are replaced in
every text field before it is stored, so a stored entry never contains the separator and the encoding
is unambiguous: no other entry can encode to the same bytes.

``vinex.audit.verify`` builds the same encoding in SQL to stream through millions of entries; the two
must change together (the tests check that they agree).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

GENESIS_HASH = "0" * 64
SEPARATOR = "\x1f"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Column widths; longer values are cut so that PostgreSQL (which enforces them) accepts every entry.
MAX_LENGTHS = {
    "actor": 100,
    "role": 32,
    "action": 32,
    "object_type": 64,
    "object_id": 128,
    "purpose": 200,
    "outcome": 32,
}
FIELDS = tuple(MAX_LENGTHS)
_ACTOR, _ROLE, _ACTION, _OBJECT_TYPE, _OBJECT_ID, _PURPOSE, _OUTCOME = MAX_LENGTHS.values()


@dataclass(frozen=True)
class AuditEntryIn:
    """One thing to record. Holds identifiers only, never personal data values."""

    actor: str
    role: str
    action: str
    object_type: str
    object_id: str
    purpose: str = ""
    outcome: str = "ok"

    def clean(self) -> tuple[str, ...]:
        """The field values as they will be stored and hashed, in ``FIELDS`` order."""
        # Spelled out rather than looped: batches of events record thousands of entries at a time.
        return (
            _clean(str(self.actor), _ACTOR), _clean(str(self.role), _ROLE), _clean(str(self.action), _ACTION),
            _clean(str(self.object_type), _OBJECT_TYPE), _clean(str(self.object_id), _OBJECT_ID),
            _clean(str(self.purpose), _PURPOSE), _clean(str(self.outcome), _OUTCOME),
        )


@dataclass(frozen=True)
class AuditEntries:
    """Entries cleaned ahead of recording: cleaning thousands of them is work better done before taking
    the lock that appending holds."""

    fields: tuple[tuple[str, ...], ...]

    @classmethod
    def for_objects(cls, template: AuditEntryIn, object_ids: Iterable[str]) -> AuditEntries:
        """Entries that differ from ``template`` only in their object id (one per event of a batch)."""
        actor, role, action, object_type, _, purpose, outcome = template.clean()
        return cls(tuple((actor, role, action, object_type, _clean(str(object_id), _OBJECT_ID), purpose, outcome)
                         for object_id in object_ids))


def _clean(value: str, limit: int) -> str:
    # isprintable() is a fast test that is False for every control character (and a few harmless ones).
    if not value.isprintable():
        value = _CONTROL.sub("\ufffd", value)
    return value[:limit]


def timestamp(when: datetime) -> str:
    """The canonical text of an aware datetime: UTC, always with six fractional digits."""
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def encode(seq: int, at: str, fields: tuple[str, ...], prev_hash: str) -> bytes:
    return SEPARATOR.join((str(seq), at, *fields, prev_hash)).encode()


def entry_hash(seq: int, at: str, fields: tuple[str, ...], prev_hash: str) -> str:
    """The hex SHA-256 that links entry ``seq`` (recorded at canonical time ``at``) to the one before it."""
    return hashlib.sha256(encode(seq, at, fields, prev_hash)).hexdigest()


# --- Appending in one PostgreSQL statement ------------------------------------------------------------

# Appends of at most this many entries (a pushed event and the messages it queues, a small batch) are
# chained by the database in the statement that locks the head; larger ones are hashed here, before the
# lock is taken, and written in their own statements.
SQL_APPEND_UP_TO = 64


@lru_cache(maxsize=4)
def append_sql(*, head_table: str, entry_table: str) -> str:
    """One PostgreSQL statement that locks the chain's head, links the entries after it (hashing each as
    ``entry_hash`` does, with ``sha256``), inserts them, moves the head and returns each (seq, entry_hash).

    Appends serialise on the head row until their transaction commits; done in one statement, the lock is
    held for that statement and the commit, not for three round trips to the database and back. Takes
    ``append_params``. Writes nothing and returns no row when the head row does not exist yet (the first
    append ever, or after a test emptied the table): the caller creates it and runs the statement again.
    """
    columns = ", ".join(f'"{c}"' for c in ("seq", "at", *FIELDS, "prev_hash", "entry_hash"))
    arrays = ", ".join(["%s::text[]"] * len(FIELDS))
    named = ", ".join(FIELDS)
    values = ", ".join(f"v.{f}" for f in FIELDS)
    # Only names made here and placeholders go into the text; every value is a parameter.
    return (
        f'WITH RECURSIVE h AS (SELECT seq, entry_hash AS hash FROM "{head_table}" WHERE id = 1 FOR UPDATE), '  # noqa: S608
        f"v AS (SELECT * FROM unnest({arrays}) WITH ORDINALITY AS v({named}, k)), "
        f"c (k, seq, prev, hash) AS (SELECT 0::bigint, seq, ''::text, hash::text FROM h UNION ALL "
        f"SELECT c.k + 1, c.seq + 1, c.hash, encode(sha256(convert_to(concat_ws(chr(31), (c.seq + 1)::text, "
        f"%s::text, {values}, c.hash), 'UTF8')), 'hex') FROM c JOIN v ON v.k = c.k + 1), "
        f'ins AS (INSERT INTO "{entry_table}" ({columns}) '
        f"SELECT c.seq, %s::timestamptz, {values}, c.prev, c.hash FROM c JOIN v ON v.k = c.k), "
        f'head AS (UPDATE "{head_table}" SET seq = l.seq, entry_hash = l.hash '
        f'FROM (SELECT seq, hash FROM c ORDER BY k DESC LIMIT 1) l WHERE "{head_table}".id = 1) '
        f"SELECT seq, hash FROM c WHERE k > 0 ORDER BY k"
    )


def append_params(cleaned: Sequence[tuple[str, ...]], at: str, stored_at: datetime) -> list[Any]:
    """The parameters of ``append_sql``: each field's values as an array, then the canonical time (hashed)
    and the time stored."""
    return [*(list(column) for column in zip(*cleaned, strict=True)), at, stored_at]
