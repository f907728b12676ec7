"""Refused disclosures: each is audited and counted, so reports show how often a policy said no."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from vinex.audit.unit import Actor, AuditUnit, audit_unit
from vinex.custody.models import Agency
from vinex.policy.sharing import Purpose
from vinex.privacy.metrics import disclosure_denied_records_count
from vinex.privacy.models import DisclosureDenial


@dataclass(frozen=True)
class DenialCount:
    owner: str
    partner: str
    purpose: str
    requests: int
    records: int


@dataclass(frozen=True)
class Refusal:
    """``partner`` was refused ``object_ids`` of ``owner`` for a reason."""

    owner_id: int
    reason: str
    object_type: str
    object_ids: list[str]


_DENIAL_COLUMNS = ("owner_id", "partner_id", "purpose", "reason", "records", "at")


def disclosure_denials_record(*, unit: AuditUnit, partner: Agency, purpose: Purpose, refusals: list[Refusal]) -> None:
    """Write the refusal rows and add their audit entries (one per object) to ``unit``.

    Always one statement, whether there are refusals or none: a partner lookup that was refused must
    cost what a lookup of nobody costs, or its timing would tell the partner that the person is held
    somewhere (``vinex.privacy.partner``). With no refusal the statement inserts nothing.
    """
    now = timezone.now()
    rows = [(r.owner_id, partner.pk, purpose.value, r.reason[:200], len(r.object_ids), now, True) for r in refusals]
    if not rows:
        rows = [(partner.pk, partner.pk, purpose.value, "", 0, now, False)]  # the same statement, writing nothing
    table = connection.ops.quote_name(DisclosureDenial._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _DENIAL_COLUMNS)
    values = ", ".join(["%s"] * len(_DENIAL_COLUMNS))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) SELECT {values} WHERE %s", rows)
    disclosure_denied_records_count(purpose=purpose.value, records=sum(len(r.object_ids) for r in refusals))
    for refusal in refusals:
        unit.add_many("disclosure_denied", refusal.object_type, refusal.object_ids, purpose=purpose.value,
                      outcome="denied")


def disclosure_denial_record(
    *, owner: Agency, partner: Agency, purpose: Purpose, reason: str, object_type: str, object_ids: list[str]
) -> None:
    """Record that ``partner`` was refused ``object_ids`` of ``owner`` (one audit entry each), in the caller's
    transaction, so a refusal is never recorded without the request that caused it and vice versa."""
    with audit_unit(actor=Actor.partner(partner.code), savepoint=False) as unit:
        refusal = Refusal(owner.pk, reason, object_type, object_ids)
        disclosure_denials_record(unit=unit, partner=partner, purpose=purpose, refusals=[refusal])


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
