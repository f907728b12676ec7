"""The audit log: hash-chained entries, the chain head, and signed checkpoints.

Entries are written only by ``vinex.audit.services``; nothing updates or deletes them (retention keeps
them at least a year), and ``vinex audit verify`` detects any row that was changed, removed or moved.
"""

from __future__ import annotations

from django.db import models

from vinex.audit.chain import GENESIS_HASH, MAX_LENGTHS


class AuditEntry(models.Model):
    # Numbered by vinex.audit.services, never by the database. An auto field only so that SQLite makes it
    # the rowid: the table is then stored in seq order, the order verification reads it in.
    seq = models.BigAutoField(primary_key=True)
    at = models.DateTimeField()
    actor = models.CharField(max_length=MAX_LENGTHS["actor"])
    role = models.CharField(max_length=MAX_LENGTHS["role"])
    action = models.CharField(max_length=MAX_LENGTHS["action"])
    object_type = models.CharField(max_length=MAX_LENGTHS["object_type"])
    object_id = models.CharField(max_length=MAX_LENGTHS["object_id"])
    purpose = models.CharField(max_length=MAX_LENGTHS["purpose"], blank=True)
    outcome = models.CharField(max_length=MAX_LENGTHS["outcome"])
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)

    class Meta:
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["at"], name="audit_entry_at"),
            models.Index(fields=["actor", "seq"], name="audit_entry_actor"),
            models.Index(fields=["object_type", "object_id", "seq"], name="audit_entry_object"),
        ]
        constraints = [models.CheckConstraint(condition=models.Q(seq__gte=1), name="audit_entry_seq_positive")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.actor} {self.action} {self.object_type}:{self.object_id}"


class AuditHead(models.Model):
    """The one row every append locks: the newest entry's seq and hash."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    entry_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_head_single_row")]

    def __str__(self) -> str:
        return f"audit head at {self.seq}"


class AuditCheckpoint(models.Model):
    """A signed Merkle tree head over the first ``tree_size`` entries.

    ``frontier`` holds the roots of the tree's perfect subtrees so the next checkpoint extends this one
    instead of rereading the log; verification never trusts it.
    """

    tree_size = models.BigIntegerField(primary_key=True)
    root_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=128)
    frontier = models.TextField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(tree_size__gte=1), name="audit_checkpoint_size_positive")
        ]

    def __str__(self) -> str:
        return f"checkpoint at {self.tree_size}"


class FailureTally(models.Model):
    """Failed attempts of one kind (a wrong API key) from one client in one fixed window: counted here, and
    written to the log as a first entry, a limit entry and a summary (``vinex.audit.failures``), not one
    entry each, so a script guessing keys cannot flood the chain."""

    kind = models.CharField(max_length=32)
    client = models.CharField(max_length=64, help_text="Keyed hash of the client address; never the address.")
    window_start = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0)
    recorded = models.PositiveIntegerField(default=0, help_text="How many of them the audit log accounts for.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "client", "window_start"],
                                               name="failure_tally_one_per_window")]
        indexes = [models.Index(fields=["window_start"], name="failure_tally_window")]

    def __str__(self) -> str:
        return f"{self.failures} {self.kind} failures from {self.client[:8]} since {self.window_start}"
