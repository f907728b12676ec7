"""Refused disclosures: each is audited and counted, so reports show how often a policy said no."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Sum

from vinex.audit.unit import Actor, audit_unit
from vinex.custody.models import Agency
from vinex.policy.sharing import Purpose
from vinex.privacy.models import DisclosureDenial


@dataclass(frozen=True)
class DenialCount:
    owner: str
    partner: str
    purpose: str
    requests: int
    records: int


def disclosure_denial_record(
    *, owner: Agency, partner: Agency, purpose: Purpose, reason: str, object_type: str, object_ids: list[str]
) -> None:
    """Record that ``partner`` was refused ``object_ids`` of ``owner`` (one audit entry each), in the caller's
    transaction, so a refusal is never recorded without the request that caused it and vice versa."""
    with audit_unit(actor=Actor.partner(partner.code), savepoint=False) as unit:
        DisclosureDenial.objects.create(owner=owner, partner=partner, purpose=purpose.value, reason=reason[:200],
                                        records=len(object_ids))
        for object_id in object_ids:
            unit.add("disclosure_denied", object_type, object_id, purpose=purpose.value, outcome="denied")


def disclosure_denials_count(*, since: datetime, until: datetime) -> list[DenialCount]:
    """Refusals per owning agency, partner and purpose in [since, until), for reports and staff pages."""
    rows = (
        DisclosureDenial.objects.filter(at__gte=since, at__lt=until)
        .values("owner__code", "partner__code", "purpose")
        .annotate(requests=Count("id"), records=Sum("records"))
        .order_by("owner__code", "partner__code", "purpose")
    )
    return [DenialCount(r["owner__code"], r["partner__code"], r["purpose"], r["requests"], r["records"] or 0)
            for r in rows]
