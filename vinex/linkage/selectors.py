"""Reads of linkage for staff: the review queue, a pair side by side, a link and what it caused.

Each person sees only what their role may: a privacy officer every pair, with the fields the agency
operator audience allows; an agency operator only pairs that involve their own agency's subjects, and
of the other agency's subject only what that agency's sharing policy gives a partner. Every look at a
pair is recorded in the audit log here, so no page can forget it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from vinex.audit.unit import Actor, audit_unit
from vinex.custody.models import Agency, Subject
from vinex.linkage.models import Decision, LinkDecision, ReviewItem
from vinex.linkage.services import wrong_messages
from vinex.notify.models import Notification
from vinex.policy.disclosure import Audience, DisclosureDenied, disclose
from vinex.policy.sharing import Purpose

_SIDE_FIELDS = ("name", "date_of_birth", "status", "facility_name", "agency_name", "agency_subject_id",
                "booking_number")


def _audit(actor: Actor, ids: Sequence[object], object_type: str, purpose: str) -> None:
    """The one audit call of linkage's reads."""
    with audit_unit(actor=actor, savepoint=False) as unit:
        unit.add_many("view", object_type, ids, purpose=purpose)


def _involving(rows: QuerySet[Any], agency: Agency | None) -> QuerySet[Any]:
    """Rows about a pair with a subject of ``agency`` (every row when None: a privacy officer)."""
    return rows if agency is None else rows.filter(Q(left__agency=agency) | Q(right__agency=agency))


def review_items_open(*, agency: Agency | None) -> list[ReviewItem]:
    """Pairs waiting for a decision, most probable first."""
    rows = ReviewItem.objects.filter(resolved_at__isnull=True).select_related("left__agency", "right__agency")
    return list(_involving(rows, agency).order_by("-probability", "created_at")[:200])


def review_item_get(*, item_id: int, agency: Agency | None) -> ReviewItem | None:
    return _involving(ReviewItem.objects.filter(pk=item_id), agency).first()


def links_recent(*, agency: Agency | None) -> list[LinkDecision]:
    """Links in force and undone, newest first."""
    rows = LinkDecision.objects.filter(decision=Decision.LINKED).select_related("left__agency", "right__agency")
    return list(_involving(rows, agency).order_by("-decided_at")[:100])


def link_get(*, decision_id: int, agency: Agency | None) -> LinkDecision | None:
    return _involving(LinkDecision.objects.filter(pk=decision_id, decision=Decision.LINKED), agency).first()


@dataclass(frozen=True)
class Side:
    """One subject as the reader may see it; ``withheld`` says why nothing is shown."""

    fields: dict[str, Any]
    withheld: str = ""


@dataclass(frozen=True)
class PairView:
    left: Side
    right: Side
    probability: float
    evidence: list[str]
    rows: list[tuple[str, Any, Any]]


def pair_view(*, left_id: int, right_id: int, probability: float, evidence: list[str], agency: Agency | None,
              actor: Actor) -> PairView:
    """Both subjects side by side with the evidence, only as the reader's role allows; the read is audited."""
    subjects = {s.pk: s for s in Subject.objects.filter(pk__in=[left_id, right_id]).select_related("agency",
                                                                                                   "facility")}
    left, right = _side(subjects[left_id], agency), _side(subjects[right_id], agency)
    _audit(actor, [left_id, right_id], "subject", f"linkage pair {left_id}~{right_id}")
    rows = [(name.replace("_", " "), left.fields.get(name), right.fields.get(name)) for name in _SIDE_FIELDS
            if name in left.fields or name in right.fields]
    return PairView(left, right, probability, evidence, rows)


def _side(subject: Subject, agency: Agency | None) -> Side:
    if agency is None or subject.agency_id == agency.pk:
        view = disclose(subject, audience=Audience.AGENCY_OPERATOR)
        return Side({**view.fields, "agency_name": subject.agency.name})
    try:
        view = disclose(subject, audience=Audience.PARTNER_AGENCY, partner=agency, purpose=Purpose.VICTIM_NOTIFICATION)
    except DisclosureDenied:
        return Side({}, "withheld: the holding agency does not share this record with yours")
    return Side(view.fields)


def link_messages(*, decision: LinkDecision, actor: Actor) -> list[Notification]:
    """The messages a link caused that would be wrong if it were (or since it was) undone; the read is audited."""
    found = wrong_messages(decision=decision)
    if found:
        _audit(actor, [n.pk for n in found], "notification", f"messages caused by link {decision.pk}")
    return found
