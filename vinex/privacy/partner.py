"""Partner agencies' reads of custody data: what another agency may look up or export, under sharing policies.

Every read goes through ``vinex.policy.disclosure.disclose`` with the partner's name and purpose, and
is audited here, per subject, in the same transaction as the read: no endpoint can forget either. A
subject the owning agency refuses to share is left out of a lookup silently (saying "withheld" would
tell the partner that the person is in custody there), at no visible cost: the refusal is audited and
counted by the same statements a lookup of nobody runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet

from vinex.audit.unit import Actor, AuditUnit, audit_add, audit_unit
from vinex.custody.models import Agency, CustodyStatus, Subject
from vinex.policy.disclosure import Audience, Disclosure, DisclosureDenied, disclose
from vinex.policy.sharing import Purpose, sharing_check
from vinex.privacy.denials import Refusal, disclosure_denial_record, disclosure_denials_record

LOOKUP_LIMIT = 20
EXPORT_CHUNK = 1000
_PRESENT = (CustodyStatus.IN_CUSTODY, CustodyStatus.ON_LEAVE)


@dataclass(frozen=True)
class PartnerLookup:
    """What a partner searches by: an A-number across agencies, or one agency's own identifiers."""

    a_number: str = ""
    agency_code: str = ""
    agency_subject_id: str = ""
    booking_number: str = ""


def _read(unit: AuditUnit, purpose: Purpose, subjects: list[Subject]) -> None:
    unit.add_many("read", "subject", [s.pk for s in subjects], purpose=purpose.value)


def _lookup_queryset(lookup: PartnerLookup) -> QuerySet[Subject]:
    subjects = Subject.objects.select_related("agency", "facility").order_by("agency__code", "agency_subject_id")
    if lookup.a_number:
        subjects = subjects.filter(a_number=lookup.a_number)
    if lookup.agency_code:
        subjects = subjects.filter(agency__code=lookup.agency_code)
    if lookup.agency_subject_id:
        subjects = subjects.filter(agency_subject_id=lookup.agency_subject_id)
    if lookup.booking_number:
        subjects = subjects.filter(booking_number=lookup.booking_number)
    return subjects


def partner_subjects_find(*, partner: Agency, purpose: Purpose, lookup: PartnerLookup) -> list[Disclosure]:
    """The subjects matching ``lookup`` that ``partner`` may see for ``purpose``, as disclosed views.

    A refused subject is left out exactly as if nobody matched, and the request does the same work either
    way: every lookup writes one audit call (the search itself, then the reads and refusals) and one
    refusal statement (which writes no row when nothing was refused). Only what is shown differs.
    """
    shown: list[tuple[Subject, Disclosure]] = []
    refused: dict[tuple[int, str], list[str]] = defaultdict(list)
    for subject in _lookup_queryset(lookup)[:LOOKUP_LIMIT]:
        try:
            shown.append((subject, disclose(subject, audience=Audience.PARTNER_AGENCY, partner=partner,
                                            purpose=purpose)))
        except DisclosureDenied as denied:
            refused[(subject.agency_id, denied.reason)].append(str(subject.pk))
    refusals = [Refusal(owner_id, reason, "subject", ids) for (owner_id, reason), ids in refused.items()]
    # The partner's key is the entry point's credential: the partner agency is who reads.
    with audit_unit(actor=Actor.partner(partner.code)) as unit:
        unit.add("search", "partner_lookup", "", purpose=purpose.value)  # never the search terms
        _read(unit, purpose, [s for s, _ in shown])
        disclosure_denials_record(unit=unit, partner=partner, purpose=purpose, refusals=refusals)
    return [view for _, view in shown]


def partner_population_export(*, partner: Agency, purpose: Purpose, owner: Agency) -> Iterator[Disclosure]:
    """Everyone ``owner`` holds now, as ``partner`` may see them; raises ``DisclosureDenied`` up front when
    the owner's policy refuses the partner or purpose. Each chunk is audited before it is handed out."""
    population = (Subject.objects.filter(agency=owner, status__in=_PRESENT).select_related("agency", "facility")
                  .order_by("pk"))
    decision = sharing_check(owner=owner, partner=partner, purpose=purpose)
    if not decision.allowed:
        with audit_unit(actor=Actor.partner(partner.code)):
            disclosure_denial_record(owner=owner, partner=partner, purpose=purpose, reason=decision.reason,
                                     object_type="agency", object_ids=[owner.code])
        raise DisclosureDenied(decision.reason)
    if owner.pk != partner.pk:
        population = population.filter(protected=False)
    audit_add(actor=Actor.partner(partner.code), action="export", object_type="agency_population",
              object_id=owner.code, purpose=purpose.value)  # one entry per export: the transparency page counts them
    return _export_chunks(partner, purpose, population)


def _export_chunks(partner: Agency, purpose: Purpose, population: QuerySet[Subject]) -> Iterator[Disclosure]:
    last_pk = 0
    while True:
        chunk = list(population.filter(pk__gt=last_pk)[:EXPORT_CHUNK])
        if not chunk:
            return
        with audit_unit(actor=Actor.partner(partner.code)) as unit:
            _read(unit, purpose, chunk)
        for subject in chunk:
            yield disclose(subject, audience=Audience.PARTNER_AGENCY, partner=partner, purpose=purpose)
        last_pk = chunk[-1].pk
