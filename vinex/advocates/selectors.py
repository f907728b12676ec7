"""Reads for victim advocates: her organisation, the victims it serves, what was sent to each and whether
it reached her. Each read of a registration is audited here (as the advocate), so no page can forget to.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Q

from vinex.advocates.models import Consent, Escalation, Membership, Organisation
from vinex.audit.unit import Actor, audit_unit
from vinex.custody.models import Agency, CustodyStatus, Subject
from vinex.locator.ratelimit import RetryAfter, rate_limit_check
from vinex.locator.selectors import LocatorQuery, locator_search
from vinex.notify.messages import status_label
from vinex.notify.models import Notification, NotificationStatus
from vinex.policy.disclosure import Audience, disclose, whereabouts_shared
from vinex.registrations.history import REACHED, Message, message_status_words, registration_messages
from vinex.registrations.models import ContactVerification, Registration, RegistrationShare, RegistrationStatus
from vinex.registrations.selectors import mask_contact

ROLE = "advocate"
N = NotificationStatus
# Events that tell a victim the person may be near her: unreached, they alert her advocates.
URGENT_EVENTS = ("RELEASED", "ESCAPED", "TEMPORARY_RELEASE", "REMOVED")
# How far back the escalation job looks: the first run after an outage or an upgrade alerts about the last
# day's unreached victims, not about every message ever sent.
LOOKBACK = timedelta(days=1)


def advocate_actor(user: User) -> Actor:
    return Actor.staff(f"user:{user.pk}", ROLE)


def membership_for(*, user: User) -> Membership | None:
    """The advocate's organisation membership, or None for a user who belongs to none."""
    if not user.is_authenticated:
        return None
    return Membership.objects.select_related("organisation").filter(user=user.pk).first()


# Stopped because she withdrew or opted out: nobody is to be alerted about those. Reached is the one rule
# of every message history (vinex.registrations.history).
NOT_REACHED = ~REACHED & ~Q(status=N.SUPPRESSED)


# --- The caseload ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonView:
    """The person a victim follows, as the advocate audience of the disclosure policy allows."""

    name: str
    status: str
    facility_name: str
    agency_name: str
    support_phone: str

    @property
    def status_text(self) -> str:
        return status_label(self.status)


@dataclass(frozen=True)
class ContactView:
    channel: str
    masked: str
    verified: bool
    opted_out: bool


@dataclass(frozen=True)
class CaseMessage:
    """A message of her history with what is the advocates' own: when they were alerted it missed her."""

    message: Message
    escalated_at: datetime | None

    @property
    def status_words(self) -> str:
        return message_status_words(self.message, about_her=True)


@dataclass(frozen=True)
class Case:
    """One victim the organisation serves: her registration, whom she follows, her contacts and messages."""

    registration: Registration
    reason: str  # "registered" by the organisation, or "shared" with it by her
    person: PersonView | None
    contacts: tuple[ContactView, ...]
    consent: Consent | None
    messages: tuple[Message, ...]  # her message history, as she and the call centre see it
    escalations: dict[int, datetime]  # event id -> when her advocates were alerted it did not reach her

    @property
    def not_reached(self) -> bool:
        """Nothing can reach her yet, or an event message did not reach her."""
        if self.registration.status == RegistrationStatus.PENDING:
            return True
        return any(m.event_type and not m.reached and m.status != N.SUPPRESSED for m in self.messages)

    @property
    def message_rows(self) -> list[CaseMessage]:
        """Her messages, each with when her advocates were alerted that it did not reach her."""
        return [CaseMessage(m, None if m.reached or m.event_id is None else self.escalations.get(m.event_id))
                for m in self.messages]

    @property
    def escalated(self) -> bool:
        return any(row.escalated_at for row in self.message_rows)


def _served(organisation: Organisation) -> Q:
    return Q(shares__organisation_code=organisation.code)


def _person_view(person_id: int, organisation: Organisation) -> PersonView | None:
    subject = Subject.objects.filter(person_id=person_id).select_related("agency", "facility").order_by(
        "-status_changed_at", "-id").first()
    if subject is None:
        return None
    view = disclose(subject, audience=Audience.ADVOCATE)
    facility = view.get("facility_name") or ""
    if view["status"] != CustodyStatus.IN_CUSTODY or not _whereabouts_allowed(subject, organisation):
        # Where someone released or escaped was last held is not where they are; and an agency that does not
        # let the agencies she is served for say where it holds someone is not overruled here.
        facility = ""
    return PersonView(view["name"], view["status"], facility, view.get("agency_name") or "",
                      view.get("support_phone") or "")


def _whereabouts_allowed(subject: Subject, organisation: Organisation) -> bool:
    served = list(organisation.agencies.all())
    if any(agency.pk == subject.agency_id for agency in served):
        return True
    return any(whereabouts_shared(subject, with_agency=agency) for agency in served)


def _case(registration: Registration, reason: str, organisation: Organisation) -> Case:
    contacts = tuple(ContactView(c.channel, mask_contact(c), c.verified_at is not None, c.opted_out_at is not None)
                     for c in sorted(registration.registrant.contacts.all(), key=lambda c: c.pk))
    consent = Consent.objects.filter(registration=registration).first()
    escalations = dict(Escalation.objects.filter(registration=registration).values_list("event_id", "raised_at"))
    return Case(registration, reason, _person_view(registration.subscription.person_id, organisation), contacts,
                consent, tuple(registration_messages(registration=registration)), escalations)


def caseload(*, user: User, organisation: Organisation, not_reached_only: bool = False) -> list[Case]:
    """Every victim ``organisation`` serves (registered by it or shared with it), newest first; with
    ``not_reached_only`` the ones not reached. Recorded in the audit log as viewed by the advocate."""
    shares = list(RegistrationShare.objects.filter(organisation_code=organisation.code)
                  .select_related("registration__registrant", "registration__subscription")
                  .order_by("-registration__created_at", "-registration_id")[:500])
    cases = [_case(share.registration, share.reason, organisation) for share in shares]
    if not_reached_only:
        cases = [case for case in cases if case.not_reached]
    with audit_unit(actor=advocate_actor(user)) as unit:
        unit.add_many("view", "registration", [c.registration.public_id for c in cases], purpose="advocate caseload")
    return cases


def registration_by_public_id(*, public_id: str) -> Registration | None:
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return Registration.objects.select_related("registrant", "subscription").filter(public_id=key).first()


def case_get(*, user: User, organisation: Organisation, registration: Registration) -> Case | None:
    """The case of ``registration`` when ``organisation`` serves it (recorded as viewed), else None
    (recorded as a refused look)."""
    share = RegistrationShare.objects.filter(registration=registration, organisation_code=organisation.code).first()
    with audit_unit(actor=advocate_actor(user)) as unit:
        if share is None:
            unit.add("view", "registration", registration.public_id, purpose="advocate case", outcome="denied")
            return None
        unit.add("view", "registration", registration.public_id, purpose="advocate case")
        return _case(registration, share.reason, organisation)


def verification_of_case(*, organisation: Organisation, registration: Registration, verification_id: str
                         ) -> ContactVerification | None:
    """The registration's contact verification ``verification_id`` names, when ``organisation`` serves it."""
    if not verification_id.isdigit() or len(verification_id) > 18:
        return None
    if not RegistrationShare.objects.filter(registration=registration, organisation_code=organisation.code).exists():
        return None
    return registration.verifications.filter(pk=int(verification_id)).first()


def escalation_recipients(*, registration: Registration) -> list[Membership]:
    """The advocates of every organisation serving ``registration`` who have somewhere to receive alerts."""
    codes = RegistrationShare.objects.filter(registration=registration).values("organisation_code")
    members = Membership.objects.filter(organisation__code__in=codes, alert_contact__isnull=False).select_related(
        "alert_contact__registrant")
    return [m for m in members if m.alert_contact is not None and m.alert_contact.reachable]


# --- Finding the person a victim follows -----------------------------------------------------------


@dataclass(frozen=True)
class PersonFound(PersonView):
    """A search result: the person as advocates may see them, and the reference that registers for them."""

    subject_ref: str


def served_agencies(*, organisation: Organisation) -> list[Agency]:
    return list(organisation.agencies.order_by("name"))


def people_served_search(*, query: LocatorQuery, user: User, organisation: Organisation
                         ) -> list[PersonFound] | RetryAfter:
    """People matching ``query`` by the public locator's rules whom an agency the organisation serves
    holds or held. Limited per advocate; every person shown is audited as viewed by her."""
    refused = rate_limit_check(key=f"advocate:search:user:{user.pk}", rate=settings.VINEX_ADVOCATE_SEARCH_RATE)
    if refused:
        return refused
    results = locator_search(query=query)
    served = set(Subject.objects.filter(person_id__in=[r.person_id for r in results],
                                        agency__in=organisation.agencies.all()).values_list("person_id", flat=True))
    found = []
    for result in results:
        if result.person_id not in served:
            continue
        view = _person_view(result.person_id, organisation)
        if view is not None:
            found.append(PersonFound(view.name, view.status, view.facility_name, view.agency_name,
                                     view.support_phone, result.subject_ref))
    with audit_unit(actor=advocate_actor(user)) as unit:
        unit.add_many("view", "person", [r.person_id for r in results if r.person_id in served],
                      purpose="advocate search")
    return found


def pending_escalations(*, now: datetime) -> dict[tuple[int, int], list[str]]:
    """(registration id, event id) → unreached channels, for urgent messages to served victims queued
    more than ``VINEX_ESCALATION_MINUTES`` ago (and at most a day earlier) whose advocates were not alerted."""
    due = now - timedelta(minutes=settings.VINEX_ESCALATION_MINUTES)
    since = due - LOOKBACK
    rows = (Notification.objects.filter(NOT_REACHED, event__type__in=URGENT_EVENTS, created_at__lte=due,
                                        created_at__gt=since, subscription__registration__shares__isnull=False)
            .values_list("subscription__registration", "event_id", "channel").distinct())
    # An alert is raised after its message was queued, so the ones that matter were raised after ``since``.
    done = set(Escalation.objects.filter(raised_at__gt=since).values_list("registration_id", "event_id"))
    found: dict[tuple[int, int], set[str]] = defaultdict(set)
    for registration_id, event_id, channel in rows:
        if (registration_id, event_id) not in done:
            found[(registration_id, event_id)].add(channel)
    return {key: sorted(channels) for key, channels in found.items()}
