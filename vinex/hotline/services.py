"""Writes for the hotline: calls, callbacks, and registrations made for callers.

Registrations go through the portal's own service (``registration_create``) so a caller registered by
phone meets exactly the rules, codes and privacy check of someone registering on the web. Every
write is recorded in the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from vinex.audit.unit import Actor, audit_add, audit_unit
from vinex.hotline.models import (
    Callback,
    CallbackOutcome,
    CallbackStatus,
    CallOutcome,
    CallSource,
    CallStatus,
    HotlineCall,
)
from vinex.notify.models import Contact, CreatedVia
from vinex.policy.contacts import normalise_contact
from vinex.registrations.models import Registration
from vinex.registrations.services import ContactIn, registration_create

ROLE = "call_centre"
# How a hotline registration says where it came from, until the portal service takes it as a parameter.
ARRIVAL = "hotline"


class HotlineError(ValueError):
    """A request the hotline cannot carry out (the message is for staff, never for a caller)."""


def actor_of(user: User) -> str:
    return f"user:{user.pk}"


def hotline_actor(user: User | None) -> Actor:
    """Who acts on the hotline: the member of staff on the call, or (without one) the phone menu."""
    return Actor.staff(actor_of(user), ROLE) if user is not None else Actor("ivr", "system")


def _audit(user: User | None, action: str, object_type: str, object_id: object, purpose: str = "",
           outcome: str = "ok") -> None:
    audit_add(actor=hotline_actor(user), action=action, object_type=object_type, object_id=object_id,
              purpose=purpose, outcome=outcome)


def _notes(text: str) -> str:
    text = text.strip()
    if len(text) > settings.VINEX_HOTLINE_NOTES_MAX:
        raise HotlineError(f"notes are limited to {settings.VINEX_HOTLINE_NOTES_MAX} characters")
    return text


# --- Calls ----------------------------------------------------------------------------------------


def call_start(*, user: User, language: str = "en") -> HotlineCall:
    """Open a call that reached a member of staff directly."""
    now = timezone.now()
    call = HotlineCall.objects.create(source=CallSource.PHONE, status=CallStatus.OPEN, taken_by=user,
                                      language=language, started_at=now)
    _audit(user, "create", "hotline_call", call.pk)
    return call


def call_enqueue(*, call_sid: str, language: str) -> HotlineCall:
    """A caller in the phone menu asked to speak with someone: they wait in the queue (idempotent per call)."""
    call, created = HotlineCall.objects.get_or_create(
        call_sid=call_sid[:64], status=CallStatus.WAITING,
        defaults={"source": CallSource.IVR, "language": language},
    )
    if created:
        _audit(None, "create", "hotline_call", call.pk, purpose="caller asked to speak with someone")
    return call


def call_take(*, call: HotlineCall, user: User) -> HotlineCall:
    """Take a waiting call; a call someone else took first is refused."""
    now = timezone.now()
    taken = HotlineCall.objects.filter(pk=call.pk, status=CallStatus.WAITING).update(
        status=CallStatus.OPEN, taken_by=user, started_at=now)
    if not taken:
        raise HotlineError("this call was already taken")
    _audit(user, "take", "hotline_call", call.pk)
    return HotlineCall.objects.get(pk=call.pk)


def call_update_intake(*, call: HotlineCall, user: User, caller_name: str, language: str,
                       notes: str) -> HotlineCall:
    """Save what the caller chose to tell: an optional name, their language and short notes."""
    call.caller_name = caller_name.strip()[:200]
    call.language = language
    call.notes = _notes(notes)
    call.save(update_fields=["caller_name", "language", "notes"])
    _audit(user, "update", "hotline_call", call.pk, purpose="intake")
    return call


def call_end(*, call: HotlineCall, user: User, outcome: str, notes: str | None = None) -> HotlineCall:
    """Record how the call ended and close it."""
    if outcome not in CallOutcome.values:
        raise HotlineError("unknown call outcome")
    call.outcome, call.status, call.ended_at = outcome, CallStatus.CLOSED, timezone.now()
    fields = ["outcome", "status", "ended_at"]
    if notes is not None:
        call.notes = _notes(notes)
        fields.append("notes")
    call.save(update_fields=fields)
    _audit(user, "close", "hotline_call", call.pk, purpose=f"outcome {outcome}")
    return call


# --- Registrations --------------------------------------------------------------------------------


def call_register(
    *,
    call: HotlineCall,
    user: User | None,
    subject_ref: str,
    language: str,
    contacts: Sequence[ContactIn],
    relationship: str = "",
    case_number: str = "",
    pin: str = "",
    client_key: str,
    arrival: str = ARRIVAL,
) -> Registration:
    """Register the caller on their behalf through the registration service (the same as the portal's).

    The registration stays pending until each contact is verified by the code sent to it (the caller
    reads it out to staff, or keys it in through the phone menu). ``client_key`` stands in for a client
    address in abuse checks (the member of staff, or the calling number); only its keyed hash is kept.
    Raises ``vinex.registrations.services.RegistrationInvalid``.
    """
    actor = hotline_actor(user)
    with audit_unit(actor=actor) as unit:
        registration = registration_create(
            subject_ref=subject_ref, language=language, contacts=contacts, relationship=relationship,
            case_number=case_number, pin=pin, arrival=arrival, client_address=client_key,
            created_via=CreatedVia.HOTLINE, actor=actor,
        )
        call.registrations.add(registration)
        unit.add("create", "registration", registration.public_id, purpose=f"hotline call {call.pk}")
    return registration


# --- Callbacks ------------------------------------------------------------------------------------


def _phone(value: str) -> str:
    return normalise_contact("voice", value)


def callback_schedule(
    *,
    user: User | None,
    due_local: datetime,
    timezone_name: str,
    language: str,
    call: HotlineCall | None = None,
    contact: Contact | None = None,
    phone: str = "",
    notes: str = "",
) -> Callback:
    """Promise to call back at ``due_local`` (a naive time in the caller's ``timezone_name``).

    The number is a contact of the caller's registration or one they gave; raises ``InvalidContact``
    for a number that cannot be dialled and ``HotlineError`` when there is neither.
    """
    if contact is None and not phone:
        raise HotlineError("a callback needs a number")
    zone = ZoneInfo(timezone_name)
    due_at = due_local.replace(tzinfo=zone) if timezone.is_naive(due_local) else due_local
    callback = Callback.objects.create(
        call=call, contact=contact, phone=_phone(phone) if contact is None else "", language=language,
        due_at=due_at, timezone=timezone_name, notes=_notes(notes), created_by=user,
    )
    _audit(user, "create", "callback", callback.pk, purpose=f"hotline call {call.pk}" if call else "phone menu")
    return callback


def callback_complete(*, callback: Callback, user: User, outcome: str, notes: str = "") -> Callback:
    """Record the outcome of the callback and take it off the queue."""
    if outcome not in CallbackOutcome.values:
        raise HotlineError("unknown callback outcome")
    if callback.status != CallbackStatus.SCHEDULED:
        raise HotlineError("this callback is already closed")
    callback.outcome, callback.status = outcome, CallbackStatus.DONE
    callback.notes = _notes(notes) if notes.strip() else callback.notes
    callback.attempts += 1
    callback.completed_by, callback.completed_at = user, timezone.now()
    callback.save(update_fields=["outcome", "status", "notes", "attempts", "completed_by", "completed_at"])
    _audit(user, "complete", "callback", callback.pk, purpose=f"outcome {outcome}")
    return callback


def callback_cancel(*, callback: Callback, user: User) -> Callback:
    """Take a scheduled callback off the queue without calling (the caller no longer needs it)."""
    Callback.objects.filter(pk=callback.pk, status=CallbackStatus.SCHEDULED).update(status=CallbackStatus.CANCELLED)
    _audit(user, "cancel", "callback", callback.pk)
    callback.refresh_from_db()
    return callback


# --- Phone menu -----------------------------------------------------------------------------------


def call_record_ivr(*, call_sid: str, language: str, outcome: str) -> HotlineCall:
    """The phone menu's own record of a call that registered someone or asked for a callback."""
    now = timezone.now()
    call = HotlineCall.objects.create(source=CallSource.IVR, status=CallStatus.CLOSED, call_sid=call_sid[:64],
                                      language=language, outcome=outcome, started_at=now, ended_at=now)
    _audit(None, "create", "hotline_call", call.pk, purpose=f"phone menu: {outcome}")
    return call


def call_left_queue(*, call_sid: str) -> int:
    """The caller hung up (or was sent on) before anyone took the call: take it off the queue."""
    return HotlineCall.objects.filter(call_sid=call_sid[:64], status=CallStatus.WAITING).update(
        status=CallStatus.CLOSED, outcome=CallOutcome.DROPPED, ended_at=timezone.now())
