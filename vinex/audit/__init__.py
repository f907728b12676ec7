"""The tamper-evident audit log.

``from vinex.audit import audit_record`` works without loading models at import time: the name is
resolved on first use, so settings and app modules can import this package freely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vinex.audit.services import AuditEntryIn, audit_record, audit_record_many

__all__ = ["AuditEntryIn", "audit_record", "audit_record_many"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from vinex.audit import services

        return getattr(services, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
