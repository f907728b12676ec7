"""Audit as a unit of work: who acts, and the entries one transaction writes to the audit log.

An entry point (a request, a command, the worker, a scheduled job) knows who acts and says so with
an ``Actor``; it hands that actor to the services it calls, which pass it on. Nothing reads the actor
from ambient state, so a service can never record the wrong one because of where it happened to run.

``audit_unit`` opens the unit of work of the current transaction. Services add entries to it; the
outermost unit writes them all with one append as the last statement before commit (sent with the
commit itself when the unit's block is the whole transaction), so the audit head row (locked from the
append until commit) is held as briefly as possible and a batch costs one append however many services
took part. A unit opened inside another one joins it.

The open unit is found through the database connection: it belongs to the open atomic block, not to
whoever acts. Each entry carries its own actor.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from vinex.audit.chain import AuditEntries, AuditEntryIn
from vinex.audit.services import audit_record_many, audit_record_many_and_commit

__all__ = ["Actor", "AuditUnit", "audit_add", "audit_unit"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does something, as the audit log's ``actor`` and ``role`` columns name them.

    Built by entry points only; the constructors below spell the references the log has always used.
    """

    ref: str
    role: str

    @classmethod
    def staff(cls, user_ref: str, role: str = "staff") -> Actor:
        """A signed-in member of staff (``user:<id>``, from ``vinex.accounts.selectors.actor_ref``)."""
        return cls(user_ref, role)

    @classmethod
    def agency(cls, code: str) -> Actor:
        """An agency's system, authenticated by its API key (or named by a roster file)."""
        return cls(f"agency:{code}", "agency")

    @classmethod
    def partner(cls, code: str) -> Actor:
        """An agency reading another agency's custody data through the partner API."""
        return cls(f"agency:{code}", "partner_agency")

    @classmethod
    def system(cls, name: str) -> Actor:
        """vinex itself: ``command:<name>``, ``scheduler:<job>``, a worker's id, a check such as
        ``registration_check``."""
        return cls(f"system:{name}", "system")

    @classmethod
    def registrant(cls, registrant_id: object) -> Actor:
        """A registrant using their manage link or a one-time code."""
        return cls(f"registrant:{registrant_id}", "registrant")

    @classmethod
    def public(cls, channel: str = "public", client_hash: str = "") -> Actor:
        """Someone not signed in, named by where they came from and a keyed hash of their client (never
        the address itself): ``public:<hash>`` for the locator, ``web:<hash>`` for a portal form, plain
        ``public`` when there is no client to name."""
        return cls(f"{channel}:{client_hash[:16]}" if client_hash else channel, "public")

    @classmethod
    def anonymous(cls) -> Actor:
        """A request that names nobody (a failed API key, an unsigned webhook)."""
        return cls("anonymous", "anonymous")


class AuditUnit:
    """The entries of one transaction, added by whoever takes part in it. Entries default to the actor
    this handle was opened with; ``actor=`` names another (a check the system runs on someone's behalf)."""

    __slots__ = ("_fields", "actor")

    def __init__(self, fields: list[tuple[str, ...]], actor: Actor) -> None:
        self._fields = fields
        self.actor = actor

    def add(self, action: str, object_type: str, object_id: object, *, purpose: str = "", outcome: str = "ok",
            actor: Actor | None = None) -> None:
        who = actor or self.actor
        entry = AuditEntryIn(who.ref, who.role, action, object_type, str(object_id), purpose, outcome)
        # Cleaned now, before commit time, when the write holds the audit head's lock.
        self._fields.append(entry.clean())

    def add_many(self, action: str, object_type: str, object_ids: Iterable[object], *, purpose: str = "",
                 outcome: str = "ok", actor: Actor | None = None) -> None:
        """One entry per object, alike but for the object id (the rows a read or a batch touched)."""
        who = actor or self.actor
        template = AuditEntryIn(who.ref, who.role, action, object_type, "", purpose, outcome)
        self._fields.extend(AuditEntries.for_objects(template, (str(i) for i in object_ids)).fields)

    def add_entries(self, entries: AuditEntries) -> None:
        """Entries already cleaned (a batch of thousands, worked out before any lock was taken)."""
        self._fields.extend(entries.fields)


# The unit open on each connection (connections are per thread), while its atomic block is open.
_open: WeakKeyDictionary[BaseDatabaseWrapper, list[tuple[str, ...]]] = WeakKeyDictionary()


@contextmanager
def audit_unit(*, actor: Actor, savepoint: bool = True) -> Iterator[AuditUnit]:
    """Run the block in ``transaction.atomic(savepoint=savepoint)`` as part of the current unit of work.

    The outermost unit writes every entry added to it, in order, once the block has finished and just
    before its transaction commits; nothing is written if the block raises. A unit opened inside
    another adds to it (and its entries are dropped if its own block raises, as its writes are).
    """
    db = transaction.get_connection()
    outer = _open.get(db)
    if outer is not None:
        mark = len(outer)
        try:
            with transaction.atomic(savepoint=savepoint):
                yield AuditUnit(outer, actor)
        except BaseException:
            del outer[mark:]
            raise
        return
    fields: list[tuple[str, ...]] = []
    # The block's end is the transaction's commit (not so under a transaction opened by hand).
    outermost = not db.in_atomic_block and db.get_autocommit()
    with transaction.atomic(savepoint=savepoint):
        _open[db] = fields
        try:
            yield AuditUnit(fields, actor)
        finally:
            # Closed before the write: work run at commit (on_commit hooks) belongs to a unit of its own.
            del _open[db]
        if db.needs_rollback:
            return  # the block asked for its work to be undone (set_rollback): its entries go with it
        if outermost:
            audit_record_many_and_commit(entries=AuditEntries(tuple(fields)))
        else:
            audit_record_many(entries=AuditEntries(tuple(fields)))


def audit_add(*, actor: Actor, action: str, object_type: str, object_id: object, purpose: str = "",
              outcome: str = "ok") -> None:
    """Add one entry to the current unit (or, outside any, write it now in the caller's transaction)."""
    with audit_unit(actor=actor, savepoint=False) as unit:
        unit.add(action, object_type, object_id, purpose=purpose, outcome=outcome)
