"""Writes for registrations: create, verify each contact with a one-time code, activate, withdraw.

Contacts, registrants and subscriptions are created through the notify services (which encrypt and
blind-index contact values); codes and confirmations go out through the normal outbox.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from vinex.audit.unit import Actor, AuditUnit, audit_unit
from vinex.custody.models import Person, Subject
from vinex.linkage.services import subscription_subject_record
from vinex.locator.ratelimit import hash_key
from vinex.locator.selectors import (
    locator_client_ref,
    subject_ref_client,
    subject_ref_person_id,
    subject_ref_subject_id,
)
from vinex.notify.lifecycle import registrant_withdraw, subscription_move, subscription_raise_tier
from vinex.notify.models import (
    CallPreference,
    Channel,
    Contact,
    CreatedVia,
    Notification,
    Registrant,
    SubscriptionStatus,
    Tier,
)
from vinex.notify.services import (
    contact_add,
    contact_opt_out,
    notification_enqueue_direct,
    registrant_create,
    registrant_set_pin,
    subscription_create,
)
from vinex.notify.voice import calls_replace_with_writing, registrant_call_preference_set
from vinex.policy.contacts import InvalidContact, normalise_contact
from vinex.policy.disclosure import Audience, disclose
from vinex.registrations.messages import code_message, confirmation_message
from vinex.registrations.models import ContactVerification, Registration, RegistrationStatus, Relationship
from vinex.registrations.screening import Outcome, code_send_allowed, contact_identity, registration_check

MAX_CONTACTS = 3
CASE_NUMBER_MAX = 64


@dataclass(frozen=True)
class FieldError:
    """A problem with one input field; ``msg`` is translated when rendered."""

    loc: tuple[str | int, ...]
    msg: str | Promise
    type: str


class RegistrationInvalid(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("invalid registration")
        self.errors = errors


@dataclass(frozen=True)
class ContactIn:
    channel: str
    value: str


def _audit(unit: AuditUnit, registration: Registration, action: str, *, actor: Actor | None = None,
           outcome: str = "ok") -> None:
    """Add a write to a registration to the unit; by default as the registrant's own (their code, their link)."""
    unit.add(action, "registration", registration.public_id, outcome=outcome,
             actor=actor or Actor.registrant(registration.registrant_id))


def ip_hash(address: str) -> str:
    """The keyed hash of a client address that registrations keep instead of the address."""
    return hash_key(address, purpose="registration-ip")


def _contact_errors(contacts: Sequence[ContactIn]) -> tuple[list[tuple[str, str]], list[FieldError]]:
    normalised: list[tuple[str, str]] = []
    errors: list[FieldError] = []
    for index, contact in enumerate(contacts):
        try:
            value = normalise_contact(contact.channel, contact.value)
        except InvalidContact:
            message = _contact_message(contact.channel)
            errors.append(FieldError(("contacts", index, "value"), message, "invalid_contact"))
            continue
        if (contact.channel, value) in normalised:
            errors.append(FieldError(("contacts", index, "value"), _("This contact is listed twice."), "duplicate"))
            continue
        normalised.append((contact.channel, value))
    if not contacts:
        errors.append(FieldError(("contacts",), _("Give at least one way to reach you."), "missing"))
    elif len(contacts) > MAX_CONTACTS:
        errors.append(FieldError(("contacts",), _("Give at most three contacts."), "too_many"))
    return normalised, errors


def _contact_message(channel: str) -> Promise:
    if channel == Channel.EMAIL:
        return _("Enter a valid email address, like name@example.org.")
    if channel in (Channel.SMS, Channel.VOICE):
        return _("Enter a valid phone number with its area code, like (555) 010-0123 or +52 55 1234 5678.")
    return _("Choose email, text message or phone call.")


def _pin_errors(pin: str, contacts: Sequence[ContactIn]) -> list[FieldError]:
    if pin and not (len(pin) == 4 and pin.isdigit()):
        return [FieldError(("pin",), _("A PIN is 4 digits, like 2580."), "invalid_pin")]
    if not pin and any(c.channel == Channel.VOICE for c in contacts):
        # Without a PIN nobody could confirm a call, and the calls would repeat for a day.
        return [FieldError(("pin",), _("Choose a 4-digit PIN to confirm our calls."), "missing_pin")]
    return []


def _validate(subject_ref: str, language: str, contacts: Sequence[ContactIn], relationship: str,
              case_number: str, pin: str) -> tuple[Person, list[tuple[str, str]]]:
    person_id = subject_ref_person_id(subject_ref=subject_ref)
    person = Person.objects.filter(pk=person_id).first() if person_id is not None else None
    normalised, errors = _contact_errors(contacts)
    if person is None:
        errors.insert(0, FieldError(("subject_ref",), _("This search result has expired. Please search again."),
                                    "expired_subject_ref"))
    if language not in dict(settings.LANGUAGES):
        errors.append(FieldError(("language",), _("Choose English or Spanish."), "invalid_language"))
    if relationship and relationship not in Relationship.values:
        errors.append(FieldError(("relationship",), _("Choose one of the listed relationships."),
                                 "invalid_relationship"))
    if len(case_number) > CASE_NUMBER_MAX:
        errors.append(FieldError(("case_number",), _("A case number has at most 64 characters."), "too_long"))
    errors.extend(_pin_errors(pin, contacts))
    if errors:
        raise RegistrationInvalid(errors)
    assert person is not None
    return person, normalised


def registration_create(
    *,
    subject_ref: str,
    language: str,
    contacts: Sequence[ContactIn],
    relationship: str = "",
    case_number: str = "",
    pin: str = "",
    arrival: str,
    client_address: str,
    actor: Actor,
    created_via: str = CreatedVia.PORTAL,
) -> Registration:
    """Record a pending registration and send a one-time code to each contact.

    Raises ``RegistrationInvalid`` (with every problem found) before writing anything. The
    subscription stays ``pending`` until every contact is verified and the privacy check allows it.
    A phone number for calls needs ``pin``: the 4 digits that confirm a call was heard. ``actor`` is
    who filled in the form (the person on the web, or the member of staff on the phone); the
    registration itself is recorded as created by ``<arrival>:<client hash>``, the registrant-to-be.
    """
    case_number, pin = case_number.strip(), pin.strip()
    person, normalised = _validate(subject_ref, language, contacts, relationship, case_number, pin)
    with audit_unit(actor=actor) as unit:
        registrant = registrant_create(language=language, created_via=created_via, actor=actor)
        if pin:
            registrant_set_pin(registrant=registrant, pin=pin)
        subscription = subscription_create(registrant=registrant, person=person, tier=Tier.PUBLIC,
                                           created_via=created_via, status=SubscriptionStatus.PENDING, actor=actor)
        chosen = subject_ref_subject_id(subject_ref=subject_ref)
        if chosen is not None:  # the subject her search result named: an unlink leaves her subscription with it
            subscription_subject_record(subscription=subscription, subject_id=chosen)
        registration = Registration.objects.create(
            registrant=registrant, subscription=subscription, channel=arrival, ip_hash=ip_hash(client_address),
            locator_client=locator_client_ref(client_address),
            search_client=subject_ref_client(subject_ref=subject_ref),
            created_via=created_via,
            relationship=relationship, case_number=case_number or None,
        )
        now = timezone.now()
        for channel, value in normalised:
            contact = contact_add(registrant=registrant, channel=channel, value=value, actor=actor)
            verification = ContactVerification(registration=registration, contact=contact, last_sent_at=now,
                                               expires_at=now, identity_index=contact_identity(channel, value))
            _send_code(verification, now, actor)
        _audit(unit, registration, "create", actor=Actor(f"{arrival}:{registration.ip_hash[:16]}", "registrant"))
    return registration


# --- One-time codes --------------------------------------------------------------------------------


def _code_hash(contact_id: int, code: str) -> str:
    key = hashlib.sha256(f"vinex one-time code v1:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, f"{contact_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _send_code(verification: ContactVerification, now: datetime, actor: Actor) -> bool:
    """Issue a fresh code (the previous one stops working) and queue it to the contact; False when the
    destination's or its country's cap holds it back (nothing is queued)."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    contact = verification.contact
    verification.code_hash = _code_hash(contact.pk, code)
    verification.expires_at = now + timedelta(seconds=settings.VINEX_CODE_TTL_SECONDS)
    verification.attempts = 0
    verification.sends += 1
    verification.last_sent_at = now
    verification.save()
    if not code_send_allowed(channel=contact.channel, value=contact.value):
        return False
    language = verification.registration.registrant.language
    text = code_message(code=code, minutes=settings.VINEX_CODE_TTL_SECONDS // 60, channel=contact.channel,
                        language=language)
    notification_enqueue_direct(contact=contact, template="verification_code", body=text.body, language=language,
                                subject_line=text.subject_line, actor=actor)
    return True


# A pending registration waits for every contact's code; an active one for the code of a contact added later.
WAITING_FOR_CODES = frozenset({RegistrationStatus.PENDING, RegistrationStatus.ACTIVE})


class Resend(StrEnum):
    SENT = "sent"
    TOO_SOON = "too_soon"
    LIMIT_REACHED = "limit_reached"
    NOT_NEEDED = "not_needed"


@dataclass(frozen=True)
class ResendResult:
    outcome: Resend
    retry_after: int = 0


def verification_resend(*, verification: ContactVerification, actor: Actor,
                        now: datetime | None = None) -> ResendResult:
    """Send a new code, unless one went out less than ``VINEX_CODE_RESEND_SECONDS`` ago or too many have."""
    now = now or timezone.now()
    with audit_unit(actor=actor):
        verification = ContactVerification.objects.select_for_update().select_related(
            "contact", "registration__registrant").get(pk=verification.pk)
        if verification.verified_at or verification.registration.status not in WAITING_FOR_CODES:
            return ResendResult(Resend.NOT_NEEDED)
        if verification.sends >= settings.VINEX_CODE_MAX_SENDS:
            return ResendResult(Resend.LIMIT_REACHED)
        wait = settings.VINEX_CODE_RESEND_SECONDS - (now - verification.last_sent_at).total_seconds()
        if wait > 0:
            return ResendResult(Resend.TOO_SOON, int(wait + 0.999))
        if not _send_code(verification, now, actor):
            return ResendResult(Resend.LIMIT_REACHED)
    return ResendResult(Resend.SENT)


class Check(StrEnum):
    VERIFIED = "verified"  # this contact is verified; others still wait
    ACTIVE = "active"
    HELD = "pending_review"
    REFUSED = "refused"
    WRONG = "wrong_code"
    EXPIRED = "expired"
    LOCKED = "too_many_attempts"
    CLOSED = "closed"  # withdrawn, refused or otherwise no longer waiting for codes


@dataclass(frozen=True)
class CheckResult:
    outcome: Check
    attempts_left: int = 0


def verification_check(*, verification: ContactVerification, code: str, actor: Actor,
                       now: datetime | None = None) -> CheckResult:
    """Check a code for one contact; when it was the last unverified contact, run the activation.

    Each code allows ``VINEX_CODE_MAX_ATTEMPTS`` wrong guesses and lives ``VINEX_CODE_TTL_SECONDS``.
    ``actor`` is who typed the code in (the messages it sends are theirs); the verification itself is
    recorded as the registrant's, whose contact the code proves.
    """
    now = now or timezone.now()
    with audit_unit(actor=actor) as unit:
        verification = ContactVerification.objects.select_for_update().select_related(
            "contact", "registration__registrant", "registration__subscription").get(pk=verification.pk)
        registration = verification.registration
        settled = registration.status != RegistrationStatus.PENDING
        if registration.status not in WAITING_FOR_CODES or (settled and verification.verified_at):
            return CheckResult(_settled(registration))
        if verification.verified_at:
            return CheckResult(Check.VERIFIED)
        if verification.attempts >= settings.VINEX_CODE_MAX_ATTEMPTS:
            return CheckResult(Check.LOCKED)
        if now >= verification.expires_at:
            return CheckResult(Check.EXPIRED)
        code = "".join(code.split())
        if not hmac.compare_digest(verification.code_hash, _code_hash(verification.contact_id, code)):
            ContactVerification.objects.filter(pk=verification.pk).update(attempts=F("attempts") + 1)
            left = settings.VINEX_CODE_MAX_ATTEMPTS - verification.attempts - 1
            return CheckResult(Check.WRONG if left > 0 else Check.LOCKED, left)
        verification.verified_at = now
        verification.save(update_fields=["verified_at"])
        verification.contact.verified_at = now
        verification.contact.save(update_fields=["verified_at"])
        outcome = Check.VERIFIED
        pending = registration.status == RegistrationStatus.PENDING
        if pending and not registration.verifications.filter(verified_at__isnull=True).exists():
            outcome = _activate(unit, registration, now)
        _audit(unit, registration, "verify_contact", outcome=str(outcome))
        return CheckResult(outcome)


def _settled(registration: Registration) -> Check:
    return {
        RegistrationStatus.ACTIVE: Check.ACTIVE,
        RegistrationStatus.HELD: Check.HELD,
        RegistrationStatus.REFUSED: Check.REFUSED,
    }.get(RegistrationStatus(registration.status), Check.CLOSED)


def _activate(unit: AuditUnit, registration: Registration, now: datetime) -> Check:
    """Every contact is verified: ask the privacy check, then activate, hold or refuse."""
    subscription = registration.subscription
    contacts = list(registration.registrant.contacts.all())
    decision = registration_check(person=subscription.person, contacts=contacts, ip_hash=registration.ip_hash,
                                  channel=registration.channel, locator_client=registration.locator_client,
                                  started_at=registration.created_at, search_client=registration.search_client)
    registration.decision_reason = decision.reason[:200]
    if decision.outcome == Outcome.ALLOW:
        _registration_open(registration, contacts, now, unit.actor)
    elif decision.outcome == Outcome.HOLD:
        registration.status = RegistrationStatus.HELD
    else:
        _registration_refuse(registration, now)
    registration.save()
    _audit(unit, registration, "privacy_check", actor=Actor.system("registration_check"),
           outcome=str(decision.outcome))
    return _settled(registration)


def registration_review(*, registration: Registration, approve: bool, actor: Actor,
                        now: datetime | None = None) -> Registration:
    """A privacy officer's decision on a registration held by the privacy check: activate or refuse it."""
    now = now or timezone.now()
    with audit_unit(actor=actor) as unit:
        registration = Registration.objects.select_for_update().select_related("registrant", "subscription").get(
            pk=registration.pk)
        if registration.status != RegistrationStatus.HELD:
            raise ValueError("only registrations waiting for review can be decided")
        subscription = registration.subscription
        if approve:
            if Subject.objects.filter(person_id=subscription.person_id, protected=True).exists():
                subscription_raise_tier(subscription=subscription, to=Tier.OFFICER_APPROVED, now=now)
            _registration_open(registration, list(registration.registrant.contacts.all()), now, actor)
        else:
            _registration_refuse(registration, now)
        registration.save()
        unit.add("review", "registration", registration.public_id, purpose=registration.decision_reason[:100],
                 outcome="approved" if approve else "refused")
    return registration


def registration_case_decide(*, registration: Registration, confirmed: bool, actor: Actor,
                             now: datetime | None = None) -> Registration:
    """Record whether the agency confirmed the case number a registrant gave; confirmed makes them a
    verified victim, who may learn scheduled release dates and facility details."""
    now = now or timezone.now()
    with audit_unit(actor=actor) as unit:
        registration = Registration.objects.select_for_update().select_related("subscription").get(pk=registration.pk)
        if registration.case_checked_at is not None or not registration.case_number:
            raise ValueError("this case number was already checked, or none was given")
        registration.case_checked_at = now
        registration.case_confirmed = confirmed
        registration.save(update_fields=["case_checked_at", "case_confirmed"])
        subscription = registration.subscription
        if confirmed and subscription.tier == Tier.PUBLIC:
            subscription_raise_tier(subscription=subscription, to=Tier.VERIFIED_VICTIM, now=now)
        unit.add("verify_case", "registration", registration.public_id,
                 outcome="confirmed" if confirmed else "not_confirmed")
    return registration


def _registration_open(registration: Registration, contacts: Sequence[Contact], now: datetime, actor: Actor) -> None:
    """Activate the registration and its subscription and send the manage link (the caller saves)."""
    token = secrets.token_urlsafe(32)
    registration.status = RegistrationStatus.ACTIVE
    registration.activated_at = now
    registration.manage_token_hash = manage_token_hash(token)
    subscription_move(subscription=registration.subscription, to=SubscriptionStatus.ACTIVE, now=now)
    _send_confirmation(registration, contacts, token, actor)


def _registration_refuse(registration: Registration, now: datetime) -> None:
    """Refuse the registration; its subscription ends as withdrawn (the caller saves)."""
    registration.status = RegistrationStatus.REFUSED
    subscription_move(subscription=registration.subscription, to=SubscriptionStatus.WITHDRAWN, now=now)


def _send_confirmation(registration: Registration, contacts: Sequence[Contact], token: str, actor: Actor) -> None:
    subject = Subject.objects.filter(person=registration.subscription.person).select_related(
        "agency", "facility").order_by("-status_changed_at", "-id").first()
    name = disclose(subject, audience=Audience.REGISTRANT_MESSAGE)["name"] if subject else ""
    language = registration.registrant.language
    for contact in contacts:
        text = confirmation_message(name=name, manage_url=manage_url(token), channel=contact.channel,
                                    language=language)
        notification_enqueue_direct(contact=contact, template="registration_confirmed", body=text.body,
                                    language=language, subject_line=text.subject_line, actor=actor)


# --- Manage tokens and withdrawal ------------------------------------------------------------------


def manage_token_hash(token: str) -> str:
    # The token carries 256 bits of randomness, so a fast hash is enough.
    return hashlib.sha256(f"vinex manage token v1:{token}".encode()).hexdigest()


def manage_url(token: str) -> str:
    # A query string, not a path, so the token never reaches access logs (they drop query strings).
    return f"{settings.VINEX_PUBLIC_URL}/manage/?token={token}"


def registration_withdraw(*, registration: Registration, actor: Actor, now: datetime | None = None,
                          reason: str = "") -> Registration:
    """Stop the subscription at once, suppress anything queued and schedule the contact data for purge.

    Withdrawing twice changes nothing the second time. ``actor`` is who withdrew (the manage link's holder).
    """
    now = now or timezone.now()
    with audit_unit(actor=actor) as unit:
        registration = Registration.objects.select_for_update().select_related(
            "registrant", "subscription").get(pk=registration.pk)
        if registration.status == RegistrationStatus.WITHDRAWN:
            return registration
        registration.status = RegistrationStatus.WITHDRAWN
        registration.withdrawn_at = now
        registration.purge_after = now + timedelta(days=settings.VINEX_PURGE_AFTER_DAYS)
        registration.save()
        subscription_move(subscription=registration.subscription, to=SubscriptionStatus.WITHDRAWN, now=now)
        registrant = registration.registrant
        registrant_withdraw(registrant=registrant, when=now)
        contact_opt_out(contacts=list(registrant.contacts.all()), when=now, actor=actor)
        if reason:  # withdrawn on her behalf (the call centre): why is part of the record
            _actor_reason(unit, registration, "withdraw", actor, reason)
        else:
            _audit(unit, registration, "withdraw", actor=actor)
    return registration


# --- The registrant's own changes (portal, API, IVR) and the call centre's on her behalf ----------


def _actor_reason(unit: AuditUnit, registration: Registration, action: str, actor: Actor, reason: str,
                  outcome: str = "ok") -> None:
    unit.add(action, "registration", registration.public_id, actor=actor, outcome=outcome,
             purpose=reason[:100] if reason else "registrant's own change")


def registration_preferences_update(*, registration: Registration, actor: Actor, language: str | None = None,
                                   call_preference: str | None = None, reason: str = "") -> Registration:
    """Change the language of her messages and how insistent calls are; each change is audited (with the
    call centre's ``reason`` when an agent makes it for her).

    Raises ``RegistrationInvalid`` when a value is not allowed, or when she would choose no calls while
    having no email or text contact to be told by instead.
    """
    registrant = registration.registrant
    errors = _not_active(registration)
    if language is not None and language not in dict(settings.LANGUAGES):
        errors.append(FieldError(("language",), _("Choose English or Spanish."), "invalid_language"))
    if call_preference is not None and call_preference not in CallPreference.values:
        errors.append(FieldError(("call_preference",), _("Choose standard, gentle or no calls."),
                                 "invalid_call_preference"))
    elif call_preference == CallPreference.NONE and not _written_contacts(registration):
        errors.append(FieldError(("call_preference",), _(
            "To stop calls, first add an email address or a number for text messages, so we can still tell you."),
            "no_written_contact"))
    if errors:
        raise RegistrationInvalid(errors)
    with audit_unit(actor=actor) as unit:
        if language is not None and language != registrant.language:
            Registrant.objects.filter(pk=registrant.pk).update(language=language)
            registrant.language = language
            _actor_reason(unit, registration, "change_language", actor, reason, outcome=language)
        if call_preference is not None and registrant_call_preference_set(
                registrant=registrant, preference=call_preference, actor=actor):
            _actor_reason(unit, registration, "change_call_preference", actor, reason, outcome=call_preference)
    return registration


def _not_active(registration: Registration) -> list[FieldError]:
    if registration.status == RegistrationStatus.ACTIVE:
        return []
    return [FieldError(("status",), _("Only an active registration can change."), "not_active")]


def _written_contacts(registration: Registration) -> list[Contact]:
    return [c for c in registration.registrant.contacts.filter(channel__in=(Channel.EMAIL, Channel.SMS))
            if c.reachable]


def registration_contact_add(*, registration: Registration, channel: str, value: str, actor: Actor, pin: str = "",
                             reason: str = "") -> ContactVerification:
    """Add a contact to an active registration and send it a one-time code; nothing else is sent to it
    until the code is keyed in. A first number for calls needs a ``pin``."""
    if _not_active(registration):
        raise RegistrationInvalid(_not_active(registration))
    normalised, errors = _contact_errors([ContactIn(channel, value)])
    registrant = registration.registrant
    pin = pin.strip()
    if channel == Channel.VOICE and not registrant.pin_hash:
        errors.extend(_pin_errors(pin, [ContactIn(channel, value)]))
    if not errors and len(verifications_listed(registration)) >= MAX_CONTACTS:
        errors.append(FieldError(("contacts",), _("Give at most three contacts."), "too_many"))
    if errors:
        raise RegistrationInvalid(errors)
    now = timezone.now()
    with audit_unit(actor=actor) as unit:
        contact = contact_add(registrant=registrant, channel=channel, value=normalised[0][1], actor=actor)
        if contact.reachable and registration.verifications.filter(contact=contact).exists():
            raise RegistrationInvalid([FieldError(("contacts", 0, "value"), _("This contact is listed twice."),
                                                  "duplicate")])
        # A contact she removed earlier comes back only through a new code, like a new one.
        Contact.objects.filter(pk=contact.pk).update(verified_at=None, opted_out_at=None)
        contact.verified_at = contact.opted_out_at = None
        if pin and channel == Channel.VOICE and not registrant.pin_hash:
            registrant_set_pin(registrant=registrant, pin=pin)
        verification, _created = ContactVerification.objects.update_or_create(
            contact=contact, defaults={"registration": registration, "last_sent_at": now, "expires_at": now,
                                       "sends": 0, "verified_at": None})
        _send_code(verification, now, actor)
        _actor_reason(unit, registration, "add_contact", actor, reason, outcome=channel)
    return verification


def verifications_listed(registration: Registration) -> list[ContactVerification]:
    return list(registration.verifications.select_related("contact").order_by("id"))


def registration_contact_remove(*, registration: Registration, verification: ContactVerification, actor: Actor,
                                reason: str = "") -> None:
    """Stop all messages to one contact at once and take it off the registration. The last contact that
    can be reached cannot be removed: withdrawing the registration is how to stop everything."""
    if verification.registration_id != registration.pk:
        raise ValueError("this contact belongs to another registration")
    others = [v for v in verifications_listed(registration) if v.pk != verification.pk and v.contact.reachable]
    if not others:
        raise RegistrationInvalid([FieldError(("contacts",), _(
            "This is your only contact. To stop all messages, stop updates instead."), "last_contact")])
    with audit_unit(actor=actor) as unit:
        contact = verification.contact
        # Calls still waiting for this number will not be placed: she is told in writing instead.
        calls_replace_with_writing(rows=contact.notifications.all(), reason="contact removed by the registrant")
        contact_opt_out(contacts=[contact], actor=actor)
        verification.delete()
        _actor_reason(unit, registration, "remove_contact", actor, reason, outcome=contact.channel)


def registration_resend_last(*, registration: Registration, actor: Actor, reason: str) -> Notification | None:
    """Send the newest message about the person again, to the contact it went to (if it can still be
    reached): for a caller who lost it or did not hear it. None when there is nothing to resend."""
    if _not_active(registration):
        raise RegistrationInvalid(_not_active(registration))
    last = (Notification.objects.filter(subscription_id=registration.subscription_id, event__isnull=False,
                                        contact__opted_out_at__isnull=True, contact__verified_at__isnull=False)
            .select_related("contact").order_by("-created_at", "-pk").first())
    if last is None:
        return None
    with audit_unit(actor=actor) as unit:
        again = notification_enqueue_direct(contact=last.contact, template=f"resend/{last.template}"[:40],
                                            body=last.body, language=last.language, subject_line=last.subject_line,
                                            actor=actor)
        _actor_reason(unit, registration, "resend_message", actor, reason, outcome=str(last.pk))
    return again
