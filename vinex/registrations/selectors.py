"""Reads for the portal: registrations by public id or manage token, and what a registrant may see."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass

from vinex.audit.unit import Actor, audit_unit
from vinex.custody.models import Subject
from vinex.locator.selectors import subject_ref_person_id
from vinex.notify.models import Channel, Contact
from vinex.policy.contacts import InvalidContact, contact_index, normalise_contact
from vinex.policy.disclosure import Audience, disclose
from vinex.registrations.models import ContactVerification, Registration, RegistrationStatus
from vinex.registrations.services import manage_token_hash


def registration_get(*, public_id: str | uuid.UUID) -> Registration | None:
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return Registration.objects.select_related("registrant", "subscription").filter(public_id=key).first()


def registration_for_manage_token(*, token: str) -> Registration | None:
    """The active or withdrawn registration this manage token opens, or None."""
    if not token or len(token) > 200:
        return None
    digest = manage_token_hash(token)
    registration = Registration.objects.select_related("registrant", "subscription").filter(
        manage_token_hash=digest).first()
    if registration is None or not hmac.compare_digest(registration.manage_token_hash, digest):
        return None
    return registration


def verifications_for_value(*, registration: Registration, value: str) -> list[ContactVerification]:
    """The registration's contacts whose value is ``value`` (normalised per channel); [] when none is."""
    indexes = set()
    for channel in Channel.values:
        try:
            indexes.add(contact_index(channel, normalise_contact(channel, value)))
        except InvalidContact:
            continue
    return list(registration.verifications.select_related("contact").filter(contact__value_index__in=indexes))


def verifications_of(*, registration: Registration) -> list[ContactVerification]:
    return list(registration.verifications.select_related("contact").order_by("id"))


def mask_contact(contact: Contact) -> str:
    """Enough of a contact for its owner to recognise it, not enough to reveal it: j•••@example.org, •••0123."""
    value = contact.value
    if contact.channel == Channel.EMAIL:
        local, _, domain = value.partition("@")
        return f"{local[:1]}•••@{domain}"
    return f"•••{value[-4:]}"


@dataclass(frozen=True)
class Followed:
    """What a registrant sees of the person they follow."""

    name: str
    status: str


def followed_person(*, registration: Registration) -> Followed | None:
    return _person_view(registration.subscription.person_id)


def person_for_subject_ref(*, subject_ref: str) -> Followed | None:
    """Whom a search result's ``subject_ref`` names (None once it has expired)."""
    person_id = subject_ref_person_id(subject_ref=subject_ref)
    return None if person_id is None else _person_view(person_id)


def _person_view(person_id: int) -> Followed | None:
    subject = Subject.objects.filter(person_id=person_id).select_related(
        "agency", "facility").order_by("-status_changed_at", "-id").first()
    if subject is None:
        return None
    view = disclose(subject, audience=Audience.REGISTRANT_MESSAGE)
    return Followed(view["name"], view["status"])


def registrations_for_manager(*, registration: Registration, actor: Actor) -> list[Registration]:
    """``registrations_sharing_contacts``, each recorded in the audit log as viewed by ``actor`` (the link's
    holder)."""
    found = registrations_sharing_contacts(registration=registration)
    with audit_unit(actor=actor) as unit:
        unit.add_many("view", "registration", [r.public_id for r in found], purpose="manage link")
    return found


def registrations_sharing_contacts(*, registration: Registration) -> list[Registration]:
    """This registration and the other live ones reaching any of its verified contacts, oldest first.

    Whoever holds the manage link has proved they control those contacts, so they may see and
    withdraw every registration that messages them.
    """
    indexes = Contact.objects.filter(registrant_id=registration.registrant_id, verified_at__isnull=False).values(
        "value_index")
    live = (RegistrationStatus.ACTIVE, RegistrationStatus.HELD)
    others = Registration.objects.filter(
        status__in=live, registrant__contacts__value_index__in=indexes, registrant__contacts__verified_at__isnull=False
    )
    found = {r.pk: r for r in others.select_related("registrant", "subscription").distinct()}
    found.setdefault(registration.pk, registration)
    return sorted(found.values(), key=lambda r: (r.created_at, r.pk))


@dataclass(frozen=True)
class HeldRegistration:
    """What a privacy officer needs to decide on a held registration, and nothing more."""

    registration: Registration
    person: Followed | None


def registrations_held(*, actor: Actor) -> list[HeldRegistration]:
    """Registrations waiting for a privacy officer, oldest first; listing them is recorded as a read."""
    held = list(Registration.objects.filter(status=RegistrationStatus.HELD).select_related("subscription")
                .order_by("created_at")[:200])
    with audit_unit(actor=actor) as unit:
        unit.add_many("read", "registration", [r.public_id for r in held], purpose="privacy review queue")
    return [HeldRegistration(r, _person_view(r.subscription.person_id)) for r in held]


def registrations_with_case_to_check(*, actor: Actor) -> list[HeldRegistration]:
    """Active registrations whose case number nobody has checked yet, oldest first (listing them, with
    their case numbers, is recorded as a read)."""
    waiting = list(Registration.objects.filter(status=RegistrationStatus.ACTIVE, case_checked_at__isnull=True)
                   .exclude(case_number__isnull=True).select_related("subscription").order_by("created_at")[:200])
    waiting = [r for r in waiting if r.case_number]  # encrypted: emptiness is only known after decrypting
    with audit_unit(actor=actor) as unit:
        unit.add_many("read", "registration", [r.public_id for r in waiting], purpose="case number check")
    return [HeldRegistration(r, _person_view(r.subscription.person_id)) for r in waiting]


@dataclass(frozen=True)
class ContactView:
    """One of a registration's contacts, as its owner sees it."""

    id: int  # the contact's verification, which names it within the registration
    channel: str
    masked: str
    verified: bool
    receiving: bool


@dataclass(frozen=True)
class RegistrationView:
    """What the registrant (or the call centre helping her) sees of a registration."""

    registration: Registration
    person: Followed | None
    language: str
    call_preference: str
    contacts: tuple[ContactView, ...]


def registration_view(*, registration: Registration, actor: Actor, purpose: str = "manage") -> RegistrationView:
    """The registration with its contacts masked; recorded in the audit log as read by ``actor``."""
    registrant = registration.registrant
    contacts = tuple(
        ContactView(v.pk, v.contact.channel, mask_contact(v.contact), v.verified_at is not None,
                    v.contact.reachable)
        for v in verifications_of(registration=registration))
    with audit_unit(actor=actor) as unit:
        unit.add("view", "registration", registration.public_id, purpose=purpose[:100])
    return RegistrationView(registration, followed_person(registration=registration), registrant.language,
                            registrant.call_preference, contacts)


def verification_of_registration(*, registration: Registration, verification_id: int) -> ContactVerification | None:
    return registration.verifications.select_related("contact").filter(pk=verification_id).first()
