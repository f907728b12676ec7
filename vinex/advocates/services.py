"""Writes for victim advocates: organisations and members, registering a victim on her behalf with her
consent, and alerting advocates when an urgent message did not reach a victim they serve.

A registration made by an advocate goes through the registration service the portal uses, so the same
privacy check applies and each of the victim's contacts is verified by a code that reaches her.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from vinex.advocates import consent, selectors
from vinex.advocates.models import Consent, ConsentMethod, Escalation, Membership, Organisation
from vinex.audit.unit import Actor, audit_unit
from vinex.custody.models import Agency, CustodyEvent, Subject
from vinex.locator.selectors import subject_ref_person_id
from vinex.notify.models import Channel, Contact, CreatedVia
from vinex.notify.services import contact_add, contacts_find, notification_enqueue_direct, registrant_create
from vinex.registrations.models import Arrival, Registration, RegistrationShare, Relationship, ShareReason
from vinex.registrations.services import ContactIn, FieldError, RegistrationInvalid, registration_create

logger = logging.getLogger(__name__)


class AdvocateError(ValueError):
    """A request about advocates that cannot be carried out (the message is for staff)."""


# --- Organisations and members ---------------------------------------------------------------------


def organisation_create(*, code: str, name: str, agencies: Iterable[Agency], actor: Actor) -> Organisation:
    """An organisation serving ``agencies``; creating the same code again updates its name and agencies."""
    with audit_unit(actor=actor) as unit:
        organisation, created = Organisation.objects.update_or_create(code=code, defaults={"name": name})
        organisation.agencies.set(list(agencies))
        unit.add("create" if created else "update", "advocate_organisation", organisation.code,
                 purpose=",".join(sorted(a.code for a in organisation.agencies.all()))[:100])
    return organisation


def membership_set(*, user: User, organisation: Organisation, actor: Actor, alert_email: str = "") -> Membership:
    """Make ``user`` an advocate of ``organisation`` whose escalation alerts go to ``alert_email`` (none without).

    The address is stored as an operator contact (encrypted, verified by whoever names it, as feed alert
    recipients are); raises ``vinex.policy.contacts.InvalidContact`` for an address that is not one.
    """
    with audit_unit(actor=actor) as unit:
        contact = _alert_contact(alert_email, actor) if alert_email else None
        membership, _created = Membership.objects.update_or_create(
            user=user, defaults={"organisation": organisation, "alert_contact": contact})
        unit.add("update", "user", user.pk, purpose=f"advocate of {organisation.code}")
    return membership


def _alert_contact(value: str, actor: Actor) -> Contact:
    """The operator contact holding this address (found by blind index), or a new one."""
    found = [c for c in contacts_find(channel=Channel.EMAIL, value=value, actor=actor)
             if c.registrant.created_via == CreatedVia.OPERATOR and c.registrant.withdrawn_at is None]
    if found:
        return found[0]
    registrant = registrant_create(language=settings.LANGUAGE_CODE, created_via=CreatedVia.OPERATOR, actor=actor)
    return contact_add(registrant=registrant, channel=Channel.EMAIL, value=value, verified=True, actor=actor)


# --- Registering a victim on her behalf ------------------------------------------------------------


def _consent_errors(method: str, version: str, given_at: datetime, now: datetime) -> list[FieldError]:
    errors = []
    if method not in ConsentMethod.values:
        errors.append(FieldError(("consent_method",), gettext_lazy("Choose how the victim gave her consent."),
                                 "invalid_consent_method"))
    if version not in consent.TEXTS:
        errors.append(FieldError(("consent_version",), gettext_lazy("This consent text does not exist."),
                                 "invalid_consent_version"))
    if given_at > now:
        errors.append(FieldError(("consent_given_at",), gettext_lazy("Consent cannot be given in the future."),
                                 "future"))
    return errors


def _served_person_error(subject_ref: str, organisation: Organisation) -> list[FieldError]:
    person_id = subject_ref_person_id(subject_ref=subject_ref)
    if person_id is None:
        return []  # expired: registration_create says so in its own words
    if Subject.objects.filter(person_id=person_id, agency__in=organisation.agencies.all()).exists():
        return []
    return [FieldError(("subject_ref",), gettext_lazy("Your organisation does not serve the agency holding this "
                                                      "person."), "not_served")]


def advocate_register(
    *,
    user: User,
    organisation: Organisation,
    subject_ref: str,
    language: str,
    contacts: Sequence[ContactIn],
    consent_method: str,
    consent_version: str = consent.CURRENT,
    consent_given_at: datetime | None = None,
    pin: str = "",
    relationship: str = Relationship.VICTIM,
    now: datetime | None = None,
) -> Registration:
    """Register a victim with her consent, on her behalf, for a person an agency ``organisation`` serves holds.

    Records the consent (who, when, how, which text) and that the organisation serves the registration.
    Nothing is sent about the person until every contact is verified by the code sent to it, which the
    victim reads out to the advocate or confirms herself. Raises ``RegistrationInvalid``.
    """
    now = now or timezone.now()
    given_at = consent_given_at or now
    errors = _consent_errors(consent_method, consent_version, given_at, now) + _served_person_error(
        subject_ref, organisation)
    if errors:
        raise RegistrationInvalid(errors)
    actor = selectors.advocate_actor(user)
    with audit_unit(actor=actor) as unit:
        registration = registration_create(
            subject_ref=subject_ref, language=language, contacts=contacts, relationship=relationship, pin=pin,
            arrival=Arrival.ADVOCATE, client_address=f"advocate:{organisation.code}", created_via=CreatedVia.STAFF,
            actor=actor,
        )
        RegistrationShare.objects.create(registration=registration, organisation_code=organisation.code,
                                         reason=ShareReason.REGISTERED)
        Consent.objects.create(registration=registration, organisation=organisation, recorded_by=user,
                               given_at=given_at, method=consent_method, text_version=consent_version)
        unit.add("record_consent", "registration", registration.public_id,
                 purpose=f"{organisation.code}: {consent_method}, text {consent_version}")
    return registration


# --- Escalation ------------------------------------------------------------------------------------

EVENT_WORDS: dict[str, Promise] = {
    "RELEASED": gettext_lazy("a release"),
    "ESCAPED": gettext_lazy("an escape"),
    "TEMPORARY_RELEASE": gettext_lazy("a temporary release"),
    "REMOVED": gettext_lazy("a removal from the country"),
}
CHANNEL_WORDS: dict[str, Promise] = {
    Channel.EMAIL: gettext_lazy("email"),
    Channel.SMS: gettext_lazy("text message"),
    Channel.VOICE: gettext_lazy("phone call"),
}


def _alert_text(registration: Registration, event: CustodyEvent, channels: list[str]) -> tuple[str, str]:
    """Subject line and body of an escalation email: no name, no contact, just where to look."""
    url = f"{settings.VINEX_PUBLIC_URL}/staff/advocate/cases/{registration.public_id}/"
    subject_line = _("A victim you serve was not reached")
    body = _(
        "vinex could not confirm, within %(minutes)s minutes, that a victim your organisation serves received "
        "its message about %(event)s (%(channels)s). Please check her case and reach her another way:\n\n%(url)s"
    ) % {"minutes": settings.VINEX_ESCALATION_MINUTES, "event": EVENT_WORDS.get(event.type, event.type),
         "channels": ", ".join(str(CHANNEL_WORDS.get(c, c)) for c in channels), "url": url}
    return subject_line, body


def _escalate(registration: Registration, event: CustodyEvent, channels: list[str], now: datetime,
              actor: Actor) -> Escalation | None:
    with audit_unit(actor=actor) as unit:
        escalation, created = Escalation.objects.get_or_create(
            registration=registration, event=event, defaults={"raised_at": now, "channels": ",".join(channels)[:40]})
        if not created:
            return None  # another scheduler, or an earlier pass, raised it
        for member in selectors.escalation_recipients(registration=registration):
            contact = member.alert_contact
            assert contact is not None
            language = contact.registrant.language
            with translation.override(language):
                subject_line, body = _alert_text(registration, event, channels)
            notification_enqueue_direct(contact=contact, template="advocate_escalation", body=body,
                                        subject_line=subject_line, language=language, actor=actor)
            escalation.notified += 1
        escalation.save(update_fields=["notified"])
        unit.add("escalate", "registration", registration.public_id, purpose=f"event {event.pk}: {escalation.channels}")
    return escalation


def escalations_raise(*, now: datetime, actor: Actor) -> list[Escalation]:
    """Alert the advocates serving each victim an urgent message did not reach in time, once per event."""
    pending = selectors.pending_escalations(now=now)
    registrations = Registration.objects.in_bulk({r for r, _e in pending})
    events = CustodyEvent.objects.in_bulk({e for _r, e in pending})
    raised = []
    for (registration_id, event_id), channels in sorted(pending.items()):
        escalation = _escalate(registrations[registration_id], events[event_id], channels, now, actor)
        if escalation is not None:
            logger.warning("victim not reached: advocates alerted",
                           extra={"escalation": escalation.pk, "advocates": escalation.notified})
            raised.append(escalation)
    return raised
