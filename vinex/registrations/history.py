"""A registration's messages and what became of each: the answer to "was she reached?".

The registrant sees it on the portal and through the API, the call centre on the phone, advocates on
their caseload. It reads delivery facts only, never a message's text or a contact's value beyond its
masked form; ``registration_history`` records the read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext_lazy as _

from vinex.audit.unit import Actor, audit_unit
from vinex.notify.messages import event_headline
from vinex.notify.models import Channel, Notification, NotificationStatus
from vinex.registrations.models import Registration
from vinex.registrations.selectors import mask_contact

REPLY_CONFIRMED = "confirmed by text reply"  # what vinex.notify.voice writes when a text reply confirms a call
HISTORY_MAX = 200


@dataclass(frozen=True)
class Attempt:
    """One try at handing a message to the provider."""

    number: int
    started_at: datetime
    outcome: str  # sent | transient | permanent
    error: str


@dataclass(frozen=True)
class Message:
    """One message to one contact and what happened to it."""

    id: int
    event_type: str  # the custody event's type; "" for a code or a confirmation of the registration
    template: str
    channel: str
    contact: str  # masked
    queued_at: datetime
    status: str
    handed_over_at: datetime | None
    delivered_at: datetime | None
    confirmed_at: datetime | None  # a PIN keyed in, or a reply to the text
    confirmed_by: str  # "pin" | "reply" | ""
    calls: int
    last_error: str
    attempts: tuple[Attempt, ...]

    @property
    def reached(self) -> bool:
        return self.status == NotificationStatus.DELIVERED or self.confirmed_at is not None


def registration_history(*, registration: Registration, actor: Actor,
                         purpose: str = "message history") -> list[Message]:
    """``registration_messages``, recorded in the audit log as read by ``actor`` for ``purpose``."""
    messages = registration_messages(registration=registration)
    with audit_unit(actor=actor) as unit:
        unit.add("view", "registration", registration.public_id, purpose=purpose[:100])
        unit.add_many("read", "notification", [m.id for m in messages], purpose=purpose[:100])
    return messages


def registration_messages(*, registration: Registration) -> list[Message]:
    """Every message sent (or being sent) to the registration's contacts, newest first."""
    rows = (Notification.objects.filter(contact__registrant_id=registration.registrant_id)
            .select_related("event", "contact").prefetch_related("delivery_attempts", "voice_calls")
            .order_by("-created_at", "-pk")[:HISTORY_MAX])
    return [_message(n) for n in rows]


def _message(notification: Notification) -> Message:
    confirmed_at, confirmed_by = _confirmation(notification)
    attempts = tuple(Attempt(a.number, a.started_at, a.outcome, a.error)
                     for a in sorted(notification.delivery_attempts.all(), key=lambda a: a.number))
    return Message(
        id=notification.pk,
        event_type=notification.event.type if notification.event is not None else "",
        template=notification.template,
        channel=notification.channel,
        contact=_mask(notification),
        queued_at=notification.created_at,
        status=notification.status,
        handed_over_at=notification.sent_at,
        delivered_at=notification.delivered_at,
        confirmed_at=confirmed_at,
        confirmed_by=confirmed_by,
        calls=len(notification.voice_calls.all()),
        last_error=notification.last_error,
        attempts=attempts,
    )


def _confirmation(notification: Notification) -> tuple[datetime | None, str]:
    pinned = [c.confirmed_at for c in notification.voice_calls.all() if c.confirmed_at is not None]
    if pinned:
        return min(pinned), "pin"
    if notification.last_error == REPLY_CONFIRMED and notification.status == NotificationStatus.DELIVERED:
        return notification.delivered_at, "reply"
    return None, ""


def _mask(notification: Notification) -> str:
    return mask_contact(notification.contact)


# --- Words for people: how a message and its fate are named on the portal and in the call centre --------

_STATUS_WORDS = {
    NotificationStatus.QUEUED: _("Waiting to be sent"),
    NotificationStatus.SENDING: _("Being sent"),
    NotificationStatus.SENT: _("Sent"),
    NotificationStatus.DELIVERED: _("Delivered"),
    NotificationStatus.FAILED_TRANSIENT: _("Not delivered yet; we will try again"),
    NotificationStatus.FAILED_PERMANENT: _("Could not be delivered"),
    NotificationStatus.SUPPRESSED: _("Not sent: messages to this contact were stopped"),
}
_CHANNEL_WORDS = {Channel.EMAIL: _("Email"), Channel.SMS: _("Text message"), Channel.VOICE: _("Phone call")}
_TEMPLATE_WORDS = {
    "verification_code": _("Your one-time code"),
    "registration_confirmed": _("Registration confirmed"),
    "linkage/correction": _("Correction to an earlier message"),
}


def message_status_words(message: Message) -> str:
    """What became of a message, in plain words (a call confirmed by PIN or reply says so)."""
    if message.confirmed_by == "pin":
        return str(_("Confirmed with your PIN"))
    if message.confirmed_by == "reply":
        return str(_("Confirmed by your text reply"))
    if message.channel == Channel.VOICE and message.status == NotificationStatus.SENT:
        return str(_("Called; not confirmed yet"))
    return str(_STATUS_WORDS.get(NotificationStatus(message.status), message.status))


def message_channel_words(channel: str) -> str:
    return str(_CHANNEL_WORDS.get(Channel(channel), channel))


def message_title(message: Message) -> str:
    """What the message was about: the event's headline, or what kind of notice it was."""
    if message.event_type:
        return event_headline(message.event_type)
    return str(_TEMPLATE_WORDS.get(message.template, _("Custody update")))
