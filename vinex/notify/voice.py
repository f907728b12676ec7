"""What happens on a voice notification call: answer, PIN, voicemail, hang-up, and calling again.

Keying the right PIN (or replying to our text message) confirms the notification and stops the
calls; anything else schedules the next call by ``vinex.notify.retry.voice_next_attempt_at``. A
notification never confirmed within the calling window is followed by an email or text message where
the registrant has one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core import signing
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from twilio.twiml.voice_response import VoiceResponse

from vinex.audit.unit import Actor, audit_unit
from vinex.notify import lifecycle, retry
from vinex.notify.models import (
    CallPreference,
    Channel,
    Contact,
    Notification,
    NotificationStatus,
    Registrant,
    VoiceCall,
)
from vinex.notify.services import notification_enqueue_for_contacts

CALL_SALT = "vinex.notify.voice.call"
VOICES = {"en": ("Polly.Joanna", "en-US"), "es": ("Polly.Lupe", "es-US")}
# Twilio's AnsweredBy values that mean a person picked up (or could not be told apart from one).
HUMAN = frozenset({"human", "unknown", ""})


def call_reference(*, notification_id: int) -> str:
    return signing.dumps(notification_id, salt=CALL_SALT, compress=True)


def notification_from_reference(*, ref: str) -> Notification | None:
    try:
        notification_id = signing.loads(ref, salt=CALL_SALT)
    except signing.BadSignature:
        return None
    return (
        Notification.objects.select_related("contact__registrant").filter(pk=notification_id, channel="voice").first()
    )


def _say(response: Any, text: str, language: str) -> None:
    """Speak ``text`` into a <Response> or a <Gather> in the registrant's language."""
    voice, locale = VOICES.get(language, VOICES["en"])
    response.say(text, voice=voice, language=locale)


def _gather(notification: Notification, ref: str, prompt: str) -> VoiceResponse:
    response = VoiceResponse()
    gather = response.gather(
        num_digits=4, action=f"{settings.VINEX_PUBLIC_URL}/webhooks/twilio/voice/pin?ref={ref}", timeout=10
    )
    _say(gather, prompt, notification.language)
    return response


def voice_call_answered(*, notification: Notification, ref: str, call_sid: str, answered_by: str) -> str:
    """TwiML for an answered call: speak the message, then ask for the PIN (voicemail: no PIN)."""
    VoiceCall.objects.update_or_create(
        call_sid=call_sid, defaults={"notification": notification, "answered_by": answered_by[:24]}
    )
    with translation.override(notification.language):
        if notification.event_id is None:
            # A one-time code or other notice: say it twice, nothing to confirm, no call back.
            response = VoiceResponse()
            _say(response, _("This is vinex."), notification.language)
            _say(response, notification.body, notification.language)
            response.pause(length=1)
            _say(response, notification.body, notification.language)
            response.hangup()
            return str(response)
        if answered_by not in HUMAN:
            response = VoiceResponse()
            _say(response, _("This is vinex, with a message about a person in custody."), notification.language)
            _say(response, notification.body, notification.language)
            if settings.VINEX_HOTLINE_NUMBER:
                _say(response, _("To hear this again or to get help, call %(phone)s.")
                     % {"phone": settings.VINEX_HOTLINE_NUMBER}, notification.language)
            response.hangup()
            return str(response)
        intro = _("This is vinex, with a message about a person in custody.")
        prompt = _("To confirm that you heard this message, enter your four-digit PIN now.")
        response = _gather(notification, ref, f"{intro} {notification.body} {prompt}")
        _say(response, _("We did not receive your PIN. We will call again later. Goodbye."), notification.language)
        return str(response)


def voice_pin_entered(*, notification: Notification, ref: str, call_sid: str, digits: str) -> str:
    """TwiML after the caller keyed digits: confirm on the right PIN, let them try again otherwise."""
    with transaction.atomic():
        call, _created = VoiceCall.objects.select_for_update().get_or_create(
            call_sid=call_sid, defaults={"notification": notification}
        )
        registrant = notification.contact.registrant
        correct = bool(registrant.pin_hash) and check_password(digits, registrant.pin_hash)
        if correct:
            notification_confirm(notification=notification, call=call)
        else:
            call.pin_attempts += 1
            call.save(update_fields=["pin_attempts"])
    with translation.override(notification.language):
        if correct:
            response = VoiceResponse()
            _say(response, _("Thank you. Your PIN is confirmed and we will not call again about this message."),
                 notification.language)
            response.hangup()
            return str(response)
        if call.pin_attempts >= settings.VINEX_VOICE_PIN_TRIES:
            response = VoiceResponse()
            _say(response, _("That PIN is not right. We will call again later. Goodbye."), notification.language)
            response.hangup()
            return str(response)
        response = _gather(notification, ref, _("That PIN is not right. Please enter your four-digit PIN again."))
        _say(response, _("We did not receive your PIN. We will call again later. Goodbye."), notification.language)
        return str(response)


def notification_confirm(
    *, notification: Notification, call: VoiceCall | None = None, when: datetime | None = None
) -> None:
    """The registrant heard it: mark the notification delivered, which stops further calls."""
    when = when or timezone.now()
    if call is not None:
        call.confirmed_at = when
        call.save(update_fields=["confirmed_at"])
    lifecycle.notification_move(notification_id=notification.pk, to=NotificationStatus.DELIVERED, now=when,
                                why="PIN entered", delivered_at=when, last_error="")


def voice_call_ended(*, notification: Notification, call_sid: str, call_status: str, answered_by: str,
                     now: datetime | None = None) -> None:
    """After each call: schedule the next one unless the PIN confirmed it, or give up and fall back.

    A call that ends before the worker recorded placing it is kept and decided when the worker does
    (``voice_calls_apply_ended``).
    """
    now = now or timezone.now()
    with transaction.atomic():
        call, _created = VoiceCall.objects.select_for_update().get_or_create(
            call_sid=call_sid, defaults={"notification": notification}
        )
        call.status, call.ended_at = call_status[:16], now
        call.answered_by = answered_by[:24] or call.answered_by
        call.save(update_fields=["status", "ended_at", "answered_by"])
        current = Notification.objects.select_for_update().get(pk=notification.pk)
        _call_outcome_apply(current, call, now)


def voice_calls_apply_ended(*, notifications: list[Notification]) -> None:
    """Decide the calls that ended while their notification was still ``sending``: the worker has just
    recorded them as placed (the call's id is the notification's provider id)."""
    by_sid = {n.provider_id: n for n in notifications if n.provider_id}
    if not by_sid:
        return
    now = timezone.now()
    for call in VoiceCall.objects.filter(call_sid__in=by_sid, ended_at__isnull=False):
        notification = by_sid[call.call_sid]
        notification.refresh_from_db(fields=["status", "attempts"])
        _call_outcome_apply(notification, call, now)


def _call_outcome_apply(current: Notification, call: VoiceCall, now: datetime) -> None:
    if current.status != NotificationStatus.SENT:
        return  # confirmed, suppressed, already rescheduled by a duplicate callback, or not recorded yet
    if current.event_id is None:
        # Codes expire within minutes: a missed call is not repeated; the person can ask again.
        heard = call.status == "completed"
        outcome = NotificationStatus.DELIVERED if heard else NotificationStatus.FAILED_PERMANENT
        lifecycle.notification_move(notification_id=current.pk, to=outcome, now=now, why=f"call {call.status}",
                                    delivered_at=now if heard else None)
        return
    if current.contact.registrant.call_preference != CallPreference.STANDARD:
        # "Gentle": one call only; an unconfirmed call is followed by a text or email, never by more calls.
        lifecycle.notification_move(notification_id=current.pk, to=NotificationStatus.FAILED_PERMANENT, now=now,
                                    why="one call only", last_error=f"call {call.status}; registrant chose one call")
        _fall_back_to_writing(current)
        return
    answered = call.status == "completed"
    following = retry.voice_next_attempt_at(first_queued_at=current.created_at, answered=answered, now=now)
    if following is not None:
        reason = "answered without the PIN" if answered else f"call {call.status}"
        lifecycle.notification_move(notification_id=current.pk, to=NotificationStatus.FAILED_TRANSIENT, now=now,
                                    why=reason, next_attempt_at=following, last_error=reason)
        return
    lifecycle.notification_move(notification_id=current.pk, to=NotificationStatus.FAILED_PERMANENT, now=now,
                                why="calling window over", last_error="not confirmed within the calling window")
    _fall_back_to_writing(current)


def _fall_back_to_writing(notification: Notification) -> None:
    """Tell the registrant by email or text message when no call was confirmed."""
    if notification.event_id is None:
        return
    registrant = notification.contact.registrant
    written = [
        c for c in Contact.objects.filter(registrant=registrant, channel__in=(Channel.SMS, Channel.EMAIL))
        if c.reachable and not Notification.objects.filter(event_id=notification.event_id, contact=c).exists()
    ]
    if written and notification.subscription is not None and notification.event is not None:
        notification_enqueue_for_contacts(event=notification.event, subscription=notification.subscription,
                                          contacts=written)


def voice_confirm_by_reply(*, contacts: list[Contact]) -> int:
    """A text reply from the registrant's number confirms their voice notifications still calling."""
    registrant_ids = {c.registrant_id for c in contacts}
    calling = Notification.objects.filter(contact__registrant_id__in=registrant_ids, channel=Channel.VOICE)
    now = timezone.now()
    return lifecycle.notifications_move(calling.exclude(status=NotificationStatus.SENDING),
                                        to=NotificationStatus.DELIVERED, now=now, delivered_at=now,
                                        last_error="confirmed by text reply")


def registrant_call_preference_set(*, registrant: Registrant, preference: str, actor: Actor) -> bool:
    """Record how insistent calls may be; returns whether it changed.

    Choosing no calls stops the calls still waiting to be placed and sends their message by text or
    email instead, so nothing she was about to be told is lost.
    """
    preference = CallPreference(preference)
    with audit_unit(actor=actor) as unit:
        changed = Registrant.objects.filter(pk=registrant.pk).exclude(call_preference=preference).update(
            call_preference=preference)
        registrant.call_preference = preference
        if changed:
            if preference == CallPreference.NONE:
                calls_replace_with_writing(rows=Notification.objects.filter(contact__registrant=registrant),
                                           reason="registrant chose no calls")
            unit.add("update", "registrant", registrant.pk, purpose=f"call preference {preference}")
    return bool(changed)


def calls_replace_with_writing(*, rows: QuerySet[Notification], reason: str) -> int:
    """Stop the event calls among ``rows`` that were not placed yet and send their messages by text or email
    instead. Returns how many calls were stopped."""
    waiting = rows.filter(channel=Channel.VOICE, event__isnull=False, status__in=lifecycle.NOTIFICATION_WAITING)
    stopped = list(waiting.select_related("contact__registrant", "subscription__registrant", "event__subject"))
    lifecycle.notifications_suppress_waiting(rows=waiting, reason=reason)
    for notification in stopped:
        _fall_back_to_writing(notification)
    return len(stopped)
