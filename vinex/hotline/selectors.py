"""Reads for the hotline. Each read of a record is audited here, so no page can forget to.

Staff see a person's custody status as the call-centre audience of the disclosure policy allows, and
the registrations made on the current call: nothing else about anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import User
from django.utils import timezone

from vinex.audit.unit import Actor, audit_add, audit_unit
from vinex.custody.models import Subject
from vinex.hotline.models import Callback, CallbackStatus, CallStatus, HotlineCall
from vinex.locator.ratelimit import RetryAfter, rate_limit_check
from vinex.locator.selectors import LocatorQuery, locator_search, subject_ref_person_id
from vinex.notify.messages import agencies_of_people, other_agencies, render_event_message
from vinex.notify.models import Contact, Notification
from vinex.notify.services import contacts_find
from vinex.policy.contacts import InvalidContact
from vinex.policy.disclosure import Audience, disclose
from vinex.registrations.history import Message, registration_history
from vinex.registrations.models import ContactVerification, Registration, RegistrationStatus
from vinex.registrations.selectors import RegistrationView as OwnView
from vinex.registrations.selectors import mask_contact, registration_view

ROLE = "call_centre"


def _audit(user: User, object_type: str, object_id: object, purpose: str) -> None:
    audit_add(actor=Actor.staff(f"user:{user.pk}", ROLE), action="view", object_type=object_type,
              object_id=object_id, purpose=purpose)


@dataclass(frozen=True)
class SubjectView:
    """A person in custody as the call centre may see them."""

    name: str
    status: str
    facility_name: str
    facility_address: str
    facility_phone: str
    agency_name: str
    support_phone: str
    subject_ref: str


def _subject_view(person_id: int, subject_ref: str) -> SubjectView | None:
    subject = Subject.objects.filter(person_id=person_id).select_related("agency", "facility").order_by(
        "-status_changed_at", "-id").first()
    if subject is None:
        return None
    view = disclose(subject, audience=Audience.CALL_CENTRE)
    return SubjectView(
        name=view["name"], status=view["status"], facility_name=view.get("facility_name") or "",
        facility_address=view.get("facility_address") or "", facility_phone=view.get("facility_phone") or "",
        agency_name=view.get("agency_name") or "", support_phone=view.get("support_phone") or "",
        subject_ref=subject_ref,
    )


def hotline_search(*, query: LocatorQuery, user: User, call: HotlineCall) -> list[SubjectView] | RetryAfter:
    """People matching ``query`` by the public locator's rules (exact identifiers, nobody hidden shown).

    Limited per member of staff; every person shown is audited as viewed for this call.
    """
    refused = rate_limit_check(key=f"hotline:search:user:{user.pk}", rate=settings.VINEX_HOTLINE_SEARCH_RATE)
    if refused:
        return refused
    views = []
    for result in locator_search(query=query):
        person_id = subject_ref_person_id(subject_ref=result.subject_ref)
        view = _subject_view(person_id, result.subject_ref) if person_id is not None else None
        if view is not None:
            _audit(user, "person", person_id, f"hotline call {call.pk}: locator search")
            views.append(view)
    return views


# --- The queue ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Queue:
    waiting: list[HotlineCall]
    mine: list[HotlineCall]
    callbacks: list[Callback]
    unverified: list[Registration]
    now: datetime


def hotline_queue(*, user: User, now: datetime | None = None) -> Queue:
    """What the call centre has to do. Lists ids, times and languages only, no personal data."""
    waiting = list(HotlineCall.objects.filter(status=CallStatus.WAITING).order_by("created_at").defer(
        "caller_name", "notes"))
    mine = list(HotlineCall.objects.filter(status=CallStatus.OPEN, taken_by=user).order_by("started_at").defer(
        "caller_name", "notes"))
    callbacks = list(Callback.objects.filter(status=CallbackStatus.SCHEDULED).order_by("due_at").defer(
        "phone", "notes"))
    unverified = list(Registration.objects.filter(status=RegistrationStatus.PENDING, hotline_calls__isnull=False)
                      .distinct().order_by("created_at").only("public_id", "created_at", "status"))
    return Queue(waiting, mine, callbacks, unverified, now or timezone.now())


# --- One call -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistrationView:
    registration: Registration
    person: SubjectView | None
    verifications: list[tuple[ContactVerification, str]] = field(default_factory=list)


@dataclass(frozen=True)
class CallView:
    call: HotlineCall
    registrations: list[RegistrationView]
    callbacks: list[Callback]


def call_get(*, call_id: int) -> HotlineCall | None:
    """The call row for a write; ``call_view`` is the audited read of its contents."""
    return HotlineCall.objects.filter(pk=call_id).first()


def call_view(*, call: HotlineCall, user: User) -> CallView:
    """Everything a call's page shows: the intake, the caller's own registrations and callbacks."""
    _audit(user, "hotline_call", call.pk, "call-centre console")
    registrations = []
    for registration in call.registrations.select_related("subscription").order_by("created_at"):
        _audit(user, "registration", registration.public_id, f"hotline call {call.pk}")
        verifications = [(v, mask_contact(v.contact)) for v in
                         registration.verifications.select_related("contact").order_by("id")]
        person = _subject_view(registration.subscription.person_id, "")
        registrations.append(RegistrationView(registration, person, verifications))
    callbacks = list(call.callbacks.order_by("due_at"))
    return CallView(call, registrations, callbacks)


def registration_of_call(*, call: HotlineCall, public_id: str) -> Registration | None:
    """One of this call's registrations (staff cannot reach anyone else's through a call)."""
    return call.registrations.filter(public_id=public_id).first()


def verification_of_call(*, call: HotlineCall, verification_id: int) -> ContactVerification | None:
    return ContactVerification.objects.filter(pk=verification_id, registration__hotline_calls=call).select_related(
        "contact", "registration").first()


def callback_get(*, callback_id: int) -> Callback | None:
    return Callback.objects.filter(pk=callback_id).select_related("call", "contact").first()


def callback_view(*, callback: Callback, user: User) -> str:
    """The number to dial for ``callback`` (audited as a view of the callback)."""
    _audit(user, "callback", callback.pk, "call-centre console: callback")
    return callback.contact.value if callback.contact is not None else callback.phone


# --- Phone menu -----------------------------------------------------------------------------------


def pending_verification_for_number(*, phone: str, actor: Actor) -> ContactVerification | None:
    """The newest unverified phone-call contact with this number whose registration waits for its code."""
    try:
        contacts = contacts_find(channel="voice", value=phone, actor=actor)
    except InvalidContact:
        return None
    return ContactVerification.objects.filter(
        contact__in=contacts, verified_at__isnull=True, registration__status=RegistrationStatus.PENDING,
    ).select_related("contact", "registration").order_by("-last_sent_at").first()


# --- Finding a caller's registrations ------------------------------------------------------------


@dataclass(frozen=True)
class FoundRegistration:
    """A registration found for a caller: enough to recognise it on the phone."""

    registration: Registration
    person: SubjectView | None
    contacts: list[str] = field(default_factory=list)


def _contacts_for(value: str, actor: Actor) -> list[Contact]:
    if "@" in value:
        return contacts_find(channel="email", value=value, actor=actor)
    return [c for channel in ("sms", "voice") for c in contacts_find(channel=channel, value=value, actor=actor)]


def registrations_find(*, value: str, reason: str, user: User) -> list[FoundRegistration]:
    """The registrations reaching this phone number or email address, exact match through the blind index
    (nothing is decrypted to search). Audited with the agent and the ``reason`` they gave.

    Raises ``InvalidContact`` for a value that is neither a phone number nor an email address.
    """
    reason = reason.strip()
    if not reason:
        raise ValueError("a reason is required to look a caller up")
    actor = Actor.staff(f"user:{user.pk}", ROLE)
    with audit_unit(actor=actor) as unit:
        registrants = {c.registrant_id for c in _contacts_for(value.strip(), actor)}
        found = list(Registration.objects.filter(registrant_id__in=registrants).select_related(
            "registrant", "subscription").order_by("-created_at")[:20])
        unit.add_many("read", "registration", [r.public_id for r in found], purpose=f"caller lookup: {reason}"[:100])
    return [FoundRegistration(r, _subject_view(r.subscription.person_id, ""),
                              [mask_contact(v.contact) for v in r.verifications.select_related("contact")])
            for r in found]


@dataclass(frozen=True)
class CallerRegistration:
    """One registration as the call centre sees it while helping its registrant."""

    view: OwnView
    person: SubjectView | None
    messages: list[Message]


def caller_registration(*, registration: Registration, reason: str, user: User) -> CallerRegistration:
    """The registration, its contacts (masked) and every message sent, each read audited with ``reason``."""
    actor = Actor.staff(f"user:{user.pk}", ROLE)
    purpose = f"call centre: {reason}"[:100]
    view = registration_view(registration=registration, actor=actor, purpose=purpose)
    messages = registration_history(registration=registration, actor=actor, purpose=purpose)
    return CallerRegistration(view, _subject_view(registration.subscription.person_id, ""), messages)


def registrations_for_caller(*, phone: str, pin: str, actor: Actor) -> list[Registration]:
    """The active registrations whose registrant holds this phone number and whose PIN is ``pin``; the PIN
    is the proof, as caller ID can be forged. Audited as read by the phone menu."""
    with audit_unit(actor=actor) as unit:
        try:
            contacts = [c for channel in ("voice", "sms")
                        for c in contacts_find(channel=channel, value=phone, actor=actor) if c.reachable]
        except InvalidContact:
            return []
        found = [r for r in Registration.objects.filter(
            registrant_id__in={c.registrant_id for c in contacts}, status=RegistrationStatus.ACTIVE,
        ).select_related("registrant", "subscription").order_by("-created_at")
            if r.registrant.pin_hash and check_password(pin, r.registrant.pin_hash)]
        unit.add_many("read", "registration", [r.public_id for r in found], purpose="phone menu: caller with PIN")
    return found


def last_message_for_caller(*, registrations: list[Registration], language: str, actor: Actor) -> str:
    """The newest custody message sent to these registrations, worded again for the phone; "" if none."""
    last = (Notification.objects.filter(subscription__in=[r.subscription_id for r in registrations],
                                        event__isnull=False)
            .select_related("event__subject__agency", "event__subject__facility", "subscription")
            .order_by("-created_at", "-pk").first())
    if last is None or last.event is None or last.subscription is None:
        return ""
    event = last.event
    with audit_unit(actor=actor) as unit:
        unit.add("read", "notification", last.pk, purpose="phone menu: heard again")
    spoken = render_event_message(event=event, channel="voice", language=language, tier=last.subscription.tier,
                                  unsubscribe_url="",
                                  others=other_agencies(event, agencies_of_people([event.subject.person_id])))
    return spoken.body
