"""Reads for victim advocates: her organisation, the victims it serves, what was sent to each and whether
it reached her. Each read of a registration is audited here (as the advocate), so no page can forget to.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Q

from vinex.advocates.models import Consent, Escalation, Membership, Organisation
from vinex.audit.unit import Actor, audit_unit
from vinex.custody.models import Agency, CustodyStatus, Subject
from vinex.locator.ratelimit import RetryAfter, rate_limit_check
from vinex.locator.selectors import LocatorQuery, locator_search
from vinex.notify.messages import status_label
from vinex.notify.models import Channel, Notification, NotificationStatus
from vinex.policy.disclosure import Audience, disclose, whereabouts_shared
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


# --- Reached or not: the one rule ------------------------------------------------------------------

# SMTP acceptance is as far as email goes (vinex.notify.channels.base), so an email handed over counts as
# delivered; a text needs the carrier's receipt, a call the PIN or a text reply.
REACHED = Q(status=N.DELIVERED) | Q(channel=Channel.EMAIL, status=N.SENT)
# Stopped because she withdrew or opted out: nobody is to be alerted about those.
NOT_REACHED = ~REACHED & ~Q(status=N.SUPPRESSED)


def message_reached(*, channel: str, status: str) -> bool:
    """``REACHED`` for one message already read."""
    return status == N.DELIVERED or (channel == Channel.EMAIL and status == N.SENT)


# --- Message history -------------------------------------------------------------------------------


class NextStep(StrEnum):
    """What vinex did (or does) next about a message."""

    NONE = ""  # reached, nothing more to do
    WAITING = "waiting"  # queued for its first try
    SENDING = "sending"
    RETRY = "retry"  # another try (or call) at ``next_at``
    AWAITING_RECEIPT = "awaiting_receipt"  # handed over; the provider has not reported yet
    AWAITING_PIN = "awaiting_pin"  # a call placed; no PIN or text reply yet
    AWAITING_CALL = "awaiting_call"  # a call with nothing to confirm (a code): its outcome is not in yet
    FELL_BACK = "fell_back"  # calls never confirmed: followed by a text or email
    GAVE_UP = "gave_up"
    STOPPED = "stopped"  # she withdrew or opted out


@dataclass(frozen=True)
class Attempt:
    number: int
    started_at: datetime
    outcome: str
    error: str


@dataclass(frozen=True)
class Call:
    placed_at: datetime
    status: str
    answered_by: str
    confirmed_at: datetime | None


@dataclass(frozen=True)
class MessageHistory:
    """One message to one of the registrant's contacts, and everything that happened to it."""

    notification_id: int
    event_type: str  # "" for a message about no event (a one-time code, the welcome)
    template: str
    channel: str
    status: str
    queued_at: datetime
    handed_over_at: datetime | None
    delivered_at: datetime | None
    confirmed_by: str  # "pin", "reply" or ""
    attempts: tuple[Attempt, ...]
    calls: tuple[Call, ...]
    fallback_for: str  # the channel this message stood in for ("voice"), or ""
    next_step: NextStep
    next_at: datetime | None
    escalated_at: datetime | None  # when her advocates were alerted that this event did not reach her
    reached: bool
    last_error: str

    @property
    def failed(self) -> bool:
        return self.status in (N.FAILED_PERMANENT, N.FAILED_TRANSIENT)


def _confirmed_by(notification: Notification, calls: list[Call]) -> str:
    if notification.channel != Channel.VOICE or notification.status != N.DELIVERED:
        return ""
    if any(call.confirmed_at for call in calls):
        return "pin"
    return "reply" if "text reply" in notification.last_error else ""


def _next_step(notification: Notification, fell_back: bool, reached: bool) -> NextStep:
    status = N(notification.status)
    if reached:
        return NextStep.NONE
    if status == N.SENT:
        if notification.channel != Channel.VOICE:
            return NextStep.AWAITING_RECEIPT
        return NextStep.AWAITING_PIN if notification.event_id is not None else NextStep.AWAITING_CALL
    if status == N.FAILED_PERMANENT:
        return NextStep.FELL_BACK if fell_back else NextStep.GAVE_UP
    return {
        N.QUEUED: NextStep.WAITING, N.SENDING: NextStep.SENDING, N.FAILED_TRANSIENT: NextStep.RETRY,
        N.SUPPRESSED: NextStep.STOPPED,
    }.get(status, NextStep.NONE)


def _history(notification: Notification, written_after_voice: set[int], escalated: dict[int, datetime]
             ) -> MessageHistory:
    calls = [Call(c.created_at, c.status, c.answered_by, c.confirmed_at)
             for c in sorted(notification.voice_calls.all(), key=lambda c: (c.created_at, c.pk))]
    attempts = tuple(Attempt(a.number, a.started_at, a.outcome, a.error)
                     for a in sorted(notification.delivery_attempts.all(), key=lambda a: a.number))
    reached = message_reached(channel=notification.channel, status=notification.status)
    event_id = notification.event_id
    is_voice = notification.channel == Channel.VOICE
    fell_back = is_voice and event_id in written_after_voice
    step = _next_step(notification, fell_back, reached)
    return MessageHistory(
        notification_id=notification.pk,
        event_type=notification.event.type if notification.event else "",
        template=notification.template, channel=notification.channel, status=notification.status,
        queued_at=notification.created_at, handed_over_at=notification.sent_at,
        delivered_at=notification.delivered_at, confirmed_by=_confirmed_by(notification, calls),
        attempts=attempts, calls=tuple(calls),
        fallback_for=Channel.VOICE if not is_voice and event_id in written_after_voice else "",
        next_step=step,
        next_at=notification.next_attempt_at if step in (NextStep.RETRY, NextStep.WAITING) else None,
        escalated_at=None if reached or event_id is None else escalated.get(event_id),
        reached=reached, last_error=notification.last_error,
    )


def _fallback_events(rows: list[Notification]) -> set[int]:
    """Events whose calls were never confirmed and were followed by a text or email: vinex queues that
    written message when it gives up calling, so later than the call (event messages are queued together)."""
    gave_up = {n.event_id: n.created_at for n in rows if n.event_id and n.channel == Channel.VOICE
               and n.status == N.FAILED_PERMANENT}
    return {n.event_id for n in rows if n.event_id in gave_up and n.channel != Channel.VOICE
            and n.created_at > gave_up[n.event_id]}


def registration_messages(*, registration: Registration) -> list[MessageHistory]:
    """Every message sent to the registrant's contacts for this registration, oldest first, with its
    attempts, calls, confirmation, fallback and what vinex did next. Reads no contact value."""
    rows = list(
        Notification.objects.filter(Q(subscription=registration.subscription_id)
                                    | Q(subscription__isnull=True, contact__registrant=registration.registrant_id))
        .select_related("event").prefetch_related("delivery_attempts", "voice_calls").order_by("created_at", "id")
    )
    escalated = dict(Escalation.objects.filter(registration=registration).values_list("event_id", "raised_at"))
    fallbacks = _fallback_events(rows)
    return [_history(n, fallbacks, escalated) for n in rows]


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
class Case:
    """One victim the organisation serves: her registration, whom she follows, her contacts and messages."""

    registration: Registration
    reason: str  # "registered" by the organisation, or "shared" with it by her
    person: PersonView | None
    contacts: tuple[ContactView, ...]
    consent: Consent | None
    messages: tuple[MessageHistory, ...]

    @property
    def not_reached(self) -> bool:
        """Nothing can reach her yet, or an event message did not reach her."""
        if self.registration.status == RegistrationStatus.PENDING:
            return True
        return any(m.event_type and not m.reached and m.status != N.SUPPRESSED for m in self.messages)

    @property
    def escalated(self) -> bool:
        return any(m.escalated_at for m in self.messages)


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
    return Case(registration, reason, _person_view(registration.subscription.person_id, organisation), contacts,
                consent, tuple(registration_messages(registration=registration)))


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
