"""A privacy officer suspends a subscription (and lifts the suspension): audited, and the registrant told.

Suspending pauses an active subscription without ending it: nothing more is sent for it (queued messages
included) until the suspension is lifted. It is the step between "looks wrong" and "withdrawn" (a
suspected misuse being looked into, a court order, the registrant's own request by phone). The registrant
is told in neutral words: that notifications are paused or have resumed, never why, and never the name
of the person (whoever reads the phone may not be the registrant, and a suspected stalker must not learn
what was noticed).
"""

from __future__ import annotations

from vinex.audit.unit import Actor, audit_unit
from vinex.custody.models import Subject
from vinex.notify.lifecycle import subscription_lift, subscription_suspend
from vinex.notify.models import Contact, Subscription
from vinex.notify.services import notification_enqueue_direct

SUSPENSION_REASONS = ("suspected_misuse", "court_order", "registrant_request", "other")

_MESSAGES = {
    ("suspended", "en"): ("Your notifications are paused",
                          "vinex: Notifications about a person you registered for are paused for now. You do not "
                          "need to do anything."),
    ("suspended", "es"): ("Sus notificaciones están en pausa",
                          "vinex: Las notificaciones sobre una persona por la que se registró están en pausa por "
                          "ahora. No necesita hacer nada."),
    ("lifted", "en"): ("Your notifications have resumed",
                       "vinex: Notifications about a person you registered for have resumed. You do not need to do "
                       "anything."),
    ("lifted", "es"): ("Sus notificaciones se reanudaron",
                       "vinex: Las notificaciones sobre una persona por la que se registró se reanudaron. No "
                       "necesita hacer nada."),
}
_QUESTIONS = {"en": "Questions: {phone}.", "es": "Preguntas: {phone}."}


def suspension_message(*, lifted: bool, language: str, support_phone: str = "") -> tuple[str, str]:
    """(subject line, body) telling a registrant their notifications were paused or resumed; no reason, no name."""
    language = language if language in ("en", "es") else "en"
    subject_line, body = _MESSAGES[("lifted" if lifted else "suspended", language)]
    if support_phone:
        body = f"{body} {_QUESTIONS[language].format(phone=support_phone)}"
    return subject_line, body


def subscription_suspend_by_officer(*, subscription: Subscription, reason: str, actor: Actor) -> bool:
    """Suspend an active subscription; the registrant is told. False (nothing done) when it was not active."""
    if reason not in SUSPENSION_REASONS:
        raise ValueError(f"reason must be one of {', '.join(SUSPENSION_REASONS)}")
    with audit_unit(actor=actor) as unit:
        if not subscription_suspend(subscription=subscription):
            return False
        unit.add("suspend", "subscription", subscription.pk, purpose=f"reason {reason}")
        _tell(subscription, lifted=False, actor=actor)
    return True


def subscription_lift_by_officer(*, subscription: Subscription, actor: Actor) -> bool:
    """Lift a suspension; the registrant is told. False (nothing done) when it was not suspended."""
    with audit_unit(actor=actor) as unit:
        if not subscription_lift(subscription=subscription):
            return False
        unit.add("lift_suspension", "subscription", subscription.pk)
        _tell(subscription, lifted=True, actor=actor)
    return True


def _reachable(subscription: Subscription) -> list[Contact]:
    """Written contacts first: a phone call only to say "paused" is for registrants with nothing else."""
    contacts = list(Contact.objects.filter(registrant_id=subscription.registrant_id, verified_at__isnull=False,
                                           opted_out_at__isnull=True).order_by("pk"))
    written = [c for c in contacts if c.channel != "voice"]
    return written or contacts


def _tell(subscription: Subscription, *, lifted: bool, actor: Actor) -> None:
    language = subscription.registrant.language
    subject = Subject.objects.filter(person_id=subscription.person_id).select_related("agency").first()
    subject_line, body = suspension_message(lifted=lifted, language=language,
                                            support_phone=subject.agency.support_phone if subject else "")
    for contact in _reachable(subscription):
        notification_enqueue_direct(contact=contact, template="subscription_lifted" if lifted else
                                    "subscription_suspended", body=body, language=language,
                                    subject_line=subject_line, actor=actor)
