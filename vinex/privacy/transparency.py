"""The public transparency page's contents: each agency's sharing policy in plain words and, per completed
quarter, how often partner agencies read, exported or were refused its data, by partner and purpose.

The counts come from the audit log (partner reads are audited per record by ``vinex.privacy.partner``, and
each population export once) and from the refusal records (``vinex.privacy.denials``). Every table goes
through the quarterly reports' publishing (``vinex.reports.compute.published_table``, which applies
``vinex.policy.suppression``): counts from 1 to 10 are withheld with complementary suppression, zero is
shown. Only completed quarters are published, so a table never changes once out and two visits cannot be
subtracted from each other. Nothing is counted per person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.cache import cache
from django.db.models import BigIntegerField, Count, OuterRef, Subquery
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from vinex.audit.selectors import AuditQuery, audit_entries_matching
from vinex.custody.models import Agency, Subject
from vinex.policy.sharing import ANY_PARTNER, Purpose, sharing_policy_parse
from vinex.policy.suppression import THRESHOLD
from vinex.privacy.denials import disclosure_denials_count
from vinex.reports.compute import published_table
from vinex.reports.quarter import Quarter, iso_z

QUARTERS = 4  # how many completed quarters the page shows
CACHE_SECONDS = 24 * 3600
PARTNER_ROLE = "partner_agency"
MEASURES = ("reads", "exports", "refusals")
MEASURE_TITLES = {
    "reads": "Records read by partner agencies (look-ups and exports), by partner and purpose",
    "exports": "Population exports by partner agencies, by partner and purpose",
    "refusals": "Partner requests refused by the sharing policy, by partner and purpose",
}
PURPOSE_LABELS = {
    Purpose.VICTIM_NOTIFICATION: _("telling registered victims"),
    Purpose.LAW_ENFORCEMENT: _("law enforcement"),
    Purpose.IMMIGRATION_ENFORCEMENT: _("immigration enforcement"),
    Purpose.COURT: _("courts"),
    Purpose.CORRECTIONS: _("corrections"),
    Purpose.RESEARCH: _("research"),
}


@dataclass(frozen=True)
class PolicyWords:
    """An agency's sharing policy as the page says it: who may read, for what, and what is refused."""

    valid: bool
    every_partner: bool
    partners: list[str]
    purposes: list[str]
    refused_partners: list[str]
    refused_purposes: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"valid": self.valid, "shares_with": ["*"] if self.every_partner else self.partners,
                "purposes": self.purposes, "refused_partners": self.refused_partners,
                "refused_purposes": self.refused_purposes}


def policy_words(raw: object) -> PolicyWords:
    """What ``raw`` (a stored policy) allows and refuses, in the terms the page uses."""
    try:
        policy = sharing_policy_parse(raw)
    except ValueError:
        return PolicyWords(False, False, [], [], [], [p.value for p in Purpose])
    allowed = [p.value for p in Purpose if p in policy.allow_purposes and p not in policy.deny_purposes]
    return PolicyWords(
        valid=True, every_partner=ANY_PARTNER in policy.allow_partners,
        partners=sorted(c for c in policy.allow_partners if c != ANY_PARTNER),
        purposes=allowed, refused_partners=sorted(policy.deny_partners),
        refused_purposes=[p.value for p in Purpose if p.value not in allowed],
    )


def completed_quarters(*, now: datetime, count: int = QUARTERS) -> list[Quarter]:
    """The ``count`` quarters that ended before ``now``, newest first."""
    current = Quarter(now.astimezone(UTC).year, (now.astimezone(UTC).month - 1) // 3 + 1)
    quarters = []
    year, number = current.year, current.number
    for _step in range(count):
        year, number = (year - 1, 4) if number == 1 else (year, number - 1)
        quarters.append(Quarter(year, number))
    return quarters


# --- Counting -------------------------------------------------------------------------------------------

# (owner agency code, partner agency code, purpose) -> count
Counts = dict[tuple[str, str, str], int]


def _partner_entries(quarter: Quarter) -> Any:
    query = AuditQuery(date_from=quarter.start.date(), date_to=quarter.end.date())
    return audit_entries_matching(query=query).filter(at__gte=quarter.start, at__lt=quarter.end, role=PARTNER_ROLE,
                                                      outcome="ok").order_by()


def _reads(quarter: Quarter) -> Counts:
    owner = Subject.objects.filter(pk=OuterRef("subject_pk")).values("agency__code")[:1]
    rows = (_partner_entries(quarter).filter(action="read", object_type="subject")
            .annotate(subject_pk=Cast("object_id", BigIntegerField())).annotate(owner=Subquery(owner))
            .values("owner", "actor", "purpose").annotate(n=Count("seq")))
    return {(r["owner"], r["actor"].removeprefix("agency:"), r["purpose"]): r["n"] for r in rows if r["owner"]}


def _exports(quarter: Quarter) -> Counts:
    rows = (_partner_entries(quarter).filter(action="export", object_type="agency_population")
            .values("object_id", "actor", "purpose").annotate(n=Count("seq")))
    return {(r["object_id"], r["actor"].removeprefix("agency:"), r["purpose"]): r["n"] for r in rows}


def _refusals(quarter: Quarter) -> Counts:
    return {(c.owner, c.partner, c.purpose): c.requests
            for c in disclosure_denials_count(since=quarter.start, until=quarter.end)}


def _agency_tables(owner: str, measures: dict[str, Counts]) -> dict[str, Any]:
    """The three tables of one owning agency: rows are partners (never the agency itself), columns purposes."""
    partners = sorted({p for counts in measures.values() for (o, p, _purpose) in counts if o == owner and p != owner})
    columns = [p.value for p in Purpose]
    tables = {}
    for measure, counts in measures.items():
        matrix = [[counts.get((owner, partner, purpose), 0) for purpose in columns] for partner in partners]
        tables[measure] = published_table(MEASURE_TITLES[measure], partners, columns, matrix)
    return tables


def _quarter_counts(quarter: Quarter) -> dict[str, Counts]:
    """The quarter's counts, kept a day in the cache: a completed quarter's counts do not change, and counting
    them reads a quarter of the audit log, which a public page must not do on every visit."""
    key = f"vinex:transparency:{quarter}"
    counts: dict[str, Counts] | None = cache.get(key)
    if counts is None:
        counts = {"reads": _reads(quarter), "exports": _exports(quarter), "refusals": _refusals(quarter)}
        cache.set(key, counts, timeout=CACHE_SECONDS)
    return counts


def _quarter_tables(quarter: Quarter, agencies: list[str]) -> dict[str, dict[str, Any]]:
    measures = _quarter_counts(quarter)
    return {code: _agency_tables(code, measures) for code in agencies}


# --- The document ---------------------------------------------------------------------------------------


def _policy_changed(agencies: list[Agency]) -> dict[str, datetime]:
    """When each agency's sharing policy last changed: its newest audited change, else the agency's creation."""
    changes = (audit_entries_matching(query=AuditQuery(action="permission_change",
                                                       object_type="agency_sharing_policy"))
               .values_list("object_id", "at"))
    changed: dict[str, datetime] = {}
    for code, at in changes:  # newest first
        changed.setdefault(code, at)
    return {a.code: changed.get(a.code, a.created_at) for a in agencies}


def transparency_document(*, now: datetime | None = None) -> dict[str, Any]:
    """Everything the page and ``/transparency.json`` publish, as of ``now``: policies, and the suppressed
    tables of the last completed quarters. Counts are those of report.json's tables (``threshold`` 11)."""
    now = now or timezone.now()
    agencies = list(Agency.objects.order_by("code"))
    changed = _policy_changed(agencies)
    codes = [a.code for a in agencies]
    quarters = completed_quarters(now=now)
    by_quarter = {q: _quarter_tables(q, codes) for q in quarters}
    return {
        "generated_at": iso_z(now),
        "threshold": THRESHOLD,
        "quarters": [{"quarter": str(q), "start": iso_z(q.start), "end": iso_z(q.end)} for q in quarters],
        "agencies": [{
            "code": a.code, "name": a.name,
            "policy": policy_words(a.sharing_policy).as_json(),
            "policy_changed_at": iso_z(changed[a.code]),
            "quarters": {str(q): by_quarter[q][a.code] for q in quarters},
        } for a in agencies],
    }


def quarter_has_activity(tables: dict[str, Any]) -> bool:
    return any(t["rows"] for t in tables.values())


def purpose_labels() -> dict[str, str]:
    return {p.value: str(label) for p, label in PURPOSE_LABELS.items()}
