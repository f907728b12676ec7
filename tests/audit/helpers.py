"""Small helpers shared by the audit tests."""

from __future__ import annotations

from vinex.audit.services import AuditEntryIn, audit_record_many


def record(count: int, *, actor: str = "user:1", action: str = "read") -> None:
    """Append ``count`` entries about contacts 1..count."""
    entries = [AuditEntryIn(actor, "call_centre", action, "contact", str(i)) for i in range(1, count + 1)]
    audit_record_many(entries=entries)
