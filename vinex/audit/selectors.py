"""Reads of the audit log. Searching the log is itself recorded in it."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from vinex.audit.models import AuditEntry
from vinex.audit.unit import Actor, audit_add


@dataclass(frozen=True)
class AuditQuery:
    """Filters of an audit search; empty values do not filter. Dates are whole UTC days, inclusive."""

    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def describe(self) -> str:
        """The filters as ``name=value`` pairs (identifiers only), for the audit entry of the search."""
        return " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self) if getattr(self, f.name)) or "all"


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def audit_entries_matching(*, query: AuditQuery) -> QuerySet[AuditEntry]:
    """Entries matching ``query``, newest first. Does not record anything: use ``audit_search`` for people."""
    entries = AuditEntry.objects.order_by("-seq")
    exact = {name: getattr(query, name) for name in ("actor", "action", "object_type", "object_id")}
    entries = entries.filter(**{name: value for name, value in exact.items() if value})
    if query.date_from:
        entries = entries.filter(at__gte=_start_of(query.date_from))
    if query.date_to:
        entries = entries.filter(at__lt=_start_of(query.date_to + timedelta(days=1)))
    return entries


def audit_search(
    *, actor: Actor, query: AuditQuery, page: int = 1, per_page: int = 50, purpose: str = ""
) -> Page[AuditEntry]:
    """One page of matching entries for ``actor``; the search is recorded (``audit_search``) before it runs."""
    audit_add(actor=actor, action="audit_search", object_type="audit_log", object_id=query.describe(),
              purpose=purpose)
    return Paginator(audit_entries_matching(query=query), per_page).get_page(page)
