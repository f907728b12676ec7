"""The disclosure policy: the one place that decides what each audience may see of a subject.

Every outward read (API response, page, message template, report) goes through ``disclose``; it
returns only the fields the audience may see, so a caller cannot leak what it never receives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from vinex.policy.sharing import AgencyLike, Purpose, sharing_check, sharing_policy_parse


# What the policy reads of custody records, stated as protocols: the policy sits below the apps that own
# those models and must not import them (custody's Agency, Facility, Subject and CustodyEvent fit).
class FacilityView(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def phone(self) -> str: ...
    @property
    def timezone(self) -> str: ...


class AgencyView(AgencyLike, Protocol):
    @property
    def name(self) -> str: ...
    @property
    def support_name(self) -> str: ...
    @property
    def support_phone(self) -> str: ...


class SubjectView(Protocol):
    @property
    def display_name(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def facility(self) -> FacilityView | None: ...
    @property
    def agency(self) -> AgencyView: ...
    @property
    def agency_id(self) -> Any: ...
    @property
    def agency_subject_id(self) -> str: ...
    @property
    def booking_number(self) -> str: ...
    @property
    def date_of_birth(self) -> date | None: ...
    @property
    def status_changed_at(self) -> datetime | None: ...
    @property
    def protected(self) -> bool: ...


class EventView(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def scheduled_for(self) -> datetime | None: ...
    @property
    def reason(self) -> str: ...
    @property
    def court_name(self) -> str: ...
    @property
    def facility(self) -> FacilityView: ...
    @property
    def to_facility(self) -> FacilityView | None: ...


class Audience(StrEnum):
    PUBLIC_LOCATOR = "public_locator"
    REGISTRANT_MESSAGE = "registrant_message"
    CALL_CENTRE = "call_centre"
    AGENCY_OPERATOR = "agency_operator"
    PARTNER_AGENCY = "partner_agency"
    REPORT = "report"
    ADVOCATE = "advocate"


# Fields each audience may see. Tiers widen what a registrant's messages carry (vinex.notify.Tier).
_SUBJECT_FIELDS: dict[Audience, frozenset[str]] = {
    Audience.PUBLIC_LOCATOR: frozenset({"name", "status", "facility_name", "facility_address", "facility_phone"}),
    Audience.REGISTRANT_MESSAGE: frozenset(
        {"name", "status", "facility_name", "facility_phone", "agency_name", "support_name", "support_phone",
         "facility_timezone"}
    ),
    Audience.CALL_CENTRE: frozenset(
        {"name", "status", "facility_name", "facility_address", "facility_phone", "agency_name", "support_phone"}
    ),
    Audience.AGENCY_OPERATOR: frozenset(
        {"name", "status", "facility_name", "agency_subject_id", "booking_number", "date_of_birth"}
    ),
    # Another agency reading this one's data, when its sharing policy allows (vinex.policy.sharing).
    Audience.PARTNER_AGENCY: frozenset(
        {"name", "date_of_birth", "status", "status_changed_at", "facility_name", "agency_code", "agency_name",
         "agency_subject_id", "booking_number"}
    ),
    Audience.REPORT: frozenset({"status", "facility_name", "agency_name"}),
    # A victim advocate: what the victim herself is told, less where the facility is (she is not the victim).
    Audience.ADVOCATE: frozenset({"name", "status", "facility_name", "agency_name", "support_phone"}),
}

_EVENT_FIELDS: dict[Audience, frozenset[str]] = {
    Audience.REGISTRANT_MESSAGE: frozenset(
        {"type", "occurred_at", "to_facility_name", "reason", "court_name", "hearing_at"}
    ),
}
# Only registrants whose standing as a victim was confirmed may learn a scheduled release date
# (it tells a stalker when to wait outside the gate).
_TIER_EXTRA_EVENT_FIELDS: dict[str, frozenset[str]] = {
    "verified_victim": frozenset({"release_at"}),
    "officer_approved": frozenset({"release_at"}),
}


class DisclosureDenied(Exception):
    """The audience may see nothing of this subject; ``reason`` is for staff and audit, not the requester."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Disclosure:
    """The allowed view of a subject (and optionally one event) for one audience."""

    fields: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)


def _subject_values(subject: SubjectView) -> dict[str, Any]:
    facility = subject.facility
    agency = subject.agency
    return {
        "name": subject.display_name,
        "status": subject.status,
        "facility_name": facility.name if facility else None,
        "facility_address": facility.address if facility else None,
        "facility_phone": facility.phone if facility else None,
        "facility_timezone": facility.timezone if facility else "UTC",
        "agency_code": agency.code,
        "agency_name": agency.name,
        "support_name": agency.support_name,
        "support_phone": agency.support_phone,
        "agency_subject_id": subject.agency_subject_id,
        "booking_number": subject.booking_number,
        "date_of_birth": subject.date_of_birth,
        "status_changed_at": subject.status_changed_at,
    }


def _event_values(event: EventView) -> dict[str, Any]:
    hearing = event.type.startswith("HEARING_")
    release: datetime | None = event.scheduled_for if event.type == "RELEASE_SCHEDULED" else None
    return {
        "type": event.type,
        "occurred_at": event.occurred_at,
        "to_facility_name": event.to_facility.name if event.to_facility else None,
        "reason": event.reason,
        "court_name": event.court_name,
        "hearing_at": event.scheduled_for if hearing else None,
        "release_at": release,
        "event_facility_name": event.facility.name,
        "event_facility_phone": event.facility.phone,
        "event_facility_timezone": event.facility.timezone,
    }


def disclose(
    subject: SubjectView,
    *,
    audience: Audience,
    event: EventView | None = None,
    tier: str | None = None,
    partner: AgencyLike | None = None,
    purpose: Purpose | None = None,
) -> Disclosure:
    """What ``audience`` may see of ``subject`` (and of ``event``, for messages).

    A partner agency names itself and its purpose; raises ``DisclosureDenied`` when the owning agency's
    sharing policy refuses them, or the subject is protected.
    """
    if audience is Audience.PARTNER_AGENCY:
        _partner_gate(subject, partner=partner, purpose=purpose)
    allowed = _SUBJECT_FIELDS[audience]
    values = {k: v for k, v in _subject_values(subject).items() if k in allowed}
    if event is not None:
        event_allowed = _EVENT_FIELDS.get(audience, frozenset()) | _TIER_EXTRA_EVENT_FIELDS.get(tier or "", frozenset())
        event_values = _event_values(event)
        values.update({k: v for k, v in event_values.items() if k in event_allowed})
        # A message describes where the event happened, which may differ from where the person is now.
        for name in ("facility_name", "facility_phone", "facility_timezone"):
            if name in allowed:
                values[name] = event_values[f"event_{name}"]
    return Disclosure(values)


def whereabouts_shared(subject: SubjectView, *, with_agency: AgencyLike) -> bool:
    """Whether the agency holding ``subject`` lets ``with_agency`` tell its victims where the person is:
    a person linked across agencies, followed by victims registered with another agency."""
    try:
        _partner_gate(subject, partner=with_agency, purpose=Purpose.VICTIM_NOTIFICATION)
    except DisclosureDenied:
        return False
    return True


def _partner_gate(subject: SubjectView, *, partner: AgencyLike | None, purpose: Purpose | None) -> None:
    if partner is None or purpose is None:
        raise DisclosureDenied("a partner read must name the partner agency and its purpose")
    if subject.protected and subject.agency_id != partner.pk:
        raise DisclosureDenied("the subject is protected")
    decision = sharing_check(owner=subject.agency, partner=partner, purpose=purpose)
    if not decision.allowed:
        raise DisclosureDenied(decision.reason)


# --- The public locator switch ------------------------------------------------------------------------
# Values of an agency's ``public_locator`` setting (custody.PublicLocator stores them).
PUBLIC_LOCATOR_SHOWN = "shown"
PUBLIC_LOCATOR_NOT_BY_A_NUMBER = "not_by_a_number"
PUBLIC_LOCATOR_HIDDEN = "hidden"


def public_locator_allowed(agency: AgencyLike, *, by_a_number: bool) -> bool:
    """Whether the public locator may show people held by ``agency`` (found ``by_a_number`` or otherwise).

    An agency may hide its people from the public altogether, or only from A-number searches. An A-number
    is an immigration identifier, so an agency whose sharing policy refuses immigration enforcement (or
    does not parse) is never searched by one, whatever its switch says. Anything unknown refuses.
    """
    setting = getattr(agency, "public_locator", PUBLIC_LOCATOR_SHOWN) or PUBLIC_LOCATOR_SHOWN
    if setting not in (PUBLIC_LOCATOR_SHOWN, PUBLIC_LOCATOR_NOT_BY_A_NUMBER):
        return False
    if not by_a_number:
        return True
    if setting == PUBLIC_LOCATOR_NOT_BY_A_NUMBER:
        return False
    try:
        policy = sharing_policy_parse(agency.sharing_policy)
    except ValueError:
        return False
    return Purpose.IMMIGRATION_ENFORCEMENT not in policy.deny_purposes
